from __future__ import annotations

import pytest

from ems.core.errors import InvalidRequest, InvalidWebhookUrl
from ems.core.subscription_rules import check_webhook_url, matches, parse_filter_policy
from ems.core.topic_models import TopicMessage


def message(attributes: dict[str, str] | None) -> TopicMessage:
    return TopicMessage("m", b"body", attributes=attributes)


def test_every_named_attribute_must_match_one_of_its_values() -> None:
    policy = parse_filter_policy({"Color": ["red", "blue"], "size": ["L"]})
    assert policy is not None
    assert policy.document == {"color": ["red", "blue"], "size": ["L"]}
    assert matches(policy, message({"color": "red", "size": "L", "extra": "x"}))
    assert not matches(policy, message({"color": "red", "size": "S"}))
    assert not matches(policy, message({"color": "red"}))
    assert not matches(policy, message(None))
    assert matches(None, message(None))


@pytest.mark.parametrize(
    "bad",
    [{}, [], {"color": []}, {"color": "red"}, {"color": [[1]]}, {"bad name": ["x"]},
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


@pytest.mark.parametrize(
    "url",
    ["http://exa mple.com/", "http://example.com/a b", "http://exa\x00mple.com/",
     "http://example.com/\x00", "http://exa\tmple.com/", "http://example.com/\r\nX: y",
     "http://example.com/\x7f", "http://example.com/\u2028", "http://" + "a" * 64 + ".com/",
     "http://a..b/", "http://" + "a." * 127 + "com/", "http://example.com/\ud800"],
)  # fmt: skip
def test_webhook_urls_that_cannot_be_called_or_stored_are_refused(url: str) -> None:
    """Each of these used to be a 500 (the resolver's IDNA error), a 503 (PostgreSQL refuses a
    NUL) or a URL stored as something else than what urlsplit read."""
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/ems?team=7", "http://" + "a" * 63 + ".com/", "http://[::1]:8080/",
     "http://bücher.example/", "http://10.0.0.1/", "https://example.com./x"],
)  # fmt: skip
def test_webhook_urls_that_dns_can_carry_are_taken(url: str) -> None:
    assert check_webhook_url(url) == url
