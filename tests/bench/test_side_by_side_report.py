"""benchmarks/sbs_report.py: the generated section replaces only itself in performance.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parents[2] / "benchmarks" / "sbs_report.py"


@pytest.fixture(scope="module")
def report() -> Any:
    spec = importlib.util.spec_from_file_location("sbs_report", HERE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_section_goes_before_the_hand_written_ones_then_replaces_only_itself(
    report: Any,
) -> None:
    hand_written = "# Performance\n\nIntro.\n\n## Queue core\n\nMeasured by hand.\n"
    first = report.insert(hand_written, f"{report.BEGIN}\n## Side by side\nold\n{report.END}\n")
    assert first.index("Intro.") < first.index("## Side by side") < first.index("## Queue core")
    second = report.insert(first, f"{report.BEGIN}\n## Side by side\nnew\n{report.END}\n")
    assert "old" not in second
    assert second.count(report.BEGIN) == second.count(report.END) == 1
    assert second.replace("new", "old") == first
    assert second.endswith("## Queue core\n\nMeasured by hand.\n")


def test_bars_say_by_how_much_they_were_missed(report: Any) -> None:
    at_least = report._bar("b", "m", 45_000, 100_000, at_least=True, recipe="batch")
    assert at_least["met"] is False
    assert at_least["missed_by"] == "45% of the bar, short by 55,000"
    under = report._bar("e2e", "m", 30.0, 20, at_least=False, recipe="e2e")
    assert under["missed_by"] == "over by 10.00 (1.5× the bar)"
    assert report._bar("x", "m", 0.55, 0.5, at_least=True, recipe=None)["met"] is True
    assert "**missed**: 45% of the bar" in report.bars_table([at_least])
