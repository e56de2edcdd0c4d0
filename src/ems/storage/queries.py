"""Named SQL queries: files of ``-- name: <name>`` sections, one per backend."""

from __future__ import annotations

import re
from importlib.resources import files

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load(package: str, filename: str = "queries.sql") -> dict[str, str]:
    text = (files(package) / filename).read_text()
    parts = _NAME.split(text)
    # parts: [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def subscription_reads(queries: dict[str, str], placeholder: str) -> dict[str, str]:
    """The subscription reads: the ``subscription_columns`` select with each WHERE (the same in
    every dialect but for ``placeholder``, ``?`` or ``$``, followed by the parameter's number)."""
    columns = queries["subscription_columns"]
    one, two = f"{placeholder}1", f"{placeholder}2"
    return {
        "subscription_by_key": f"{columns} WHERE s.key = {one}",
        "subscriptions_in_topic": f"{columns} WHERE s.topic_key = {one} ORDER BY s.key",
        "subscription_in_topic": (
            f"{columns} WHERE s.topic_key = {one} AND s.subscription_id = {two}"
        ),
        "subscription_by_id": f"{columns} WHERE s.subscription_id = {one}",
    }
