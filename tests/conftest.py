"""Fixtures shared by every suite."""

from __future__ import annotations

import pytest

from ems.core.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
