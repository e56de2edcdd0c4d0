from __future__ import annotations

import pytest

from ems.core.errors import InvalidRequest, InvalidWebhookUrl
from ems.core.topics import check_webhook_url, matches, parse_filter_policy


def test_every_named_attribute_must_match_one_of_its_values() -> None:
    policy = parse_filter_policy({"Color": ["red", "blue"], "size": ["L"]})
    assert policy == {"color": ("red", "blue"), "size": ("L",)}
    assert matches(policy, {"color": "red", "size": "L", "extra": "x"})
    assert not matches(policy, {"color": "red", "size": "S"})
    assert not matches(policy, {"color": "red"})
    assert not matches(policy, None)
    assert matches(None, None)


@pytest.mark.parametrize(
    "bad",
    [{}, [], {"color": []}, {"color": "red"}, {"color": [1]}, {"bad name": ["x"]},
     {f"a{i}": ["x"] for i in range(11)}, {"a": ["x"] * 101}],
)  # fmt: skip
def test_malformed_policies_are_refused(bad: object) -> None:
    with pytest.raises(InvalidRequest):
        parse_filter_policy(bad)


@pytest.mark.parametrize(
    "url", ["ftp://x/", "/relative", "http://", "https://h/#frag", "http://h:99999/", "x" * 3000]
)
def test_webhook_urls_must_be_absolute_http(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)
