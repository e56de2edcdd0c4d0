"""SNS's filter-policy grammar, both scopes, with AWS's limits and messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ems.core.filter_policy import FilterPolicy, FilterScope, InvalidFilterPolicy

TYPES = "sqs:types"


def attributes_match(policy: dict[str, Any], attributes: dict[str, str]) -> bool:
    return FilterPolicy.parse(policy).matches(attributes, b"")


def body_match(policy: dict[str, Any], body: object) -> bool:
    document = json.dumps(body).encode()
    return FilterPolicy.parse(policy, FilterScope.BODY).matches(None, document)


def typed(**values: tuple[str, str]) -> dict[str, str]:
    """Attributes as the AWS wires store them: string values, non-String types in sqs:types."""
    out = {name: value for name, (_, value) in values.items()}
    types = {name: kind for name, (kind, _) in values.items() if kind != "String"}
    if types:
        out[TYPES] = json.dumps(types)
    return out


@pytest.mark.parametrize(
    ("policy", "attributes", "expected"),
    [
        ({"store": ["example_corp"]}, {"store": "example_corp"}, True),
        ({"store": ["example_corp"]}, {"store": "other"}, False),
        ({"store": ["example_corp"]}, {}, False),
        ({"event": [{"prefix": "order-"}]}, {"event": "order-placed"}, True),
        ({"event": [{"prefix": "order-"}]}, {"event": "refund"}, False),
        ({"file": [{"suffix": ".png"}]}, {"file": "cat.png"}, True),
        ({"file": [{"suffix": ".png"}]}, {"file": "cat.jpg"}, False),
        ({"name": [{"equals-ignore-case": "ALICE"}]}, {"name": "alice"}, True),
        ({"name": [{"anything-but": "bob"}]}, {"name": "alice"}, True),
        ({"name": [{"anything-but": "bob"}]}, {"name": "bob"}, False),
        ({"name": [{"anything-but": ["bob", "eve"]}]}, {"name": "eve"}, False),
        ({"name": [{"anything-but": {"prefix": "b"}}]}, {"name": "bob"}, False),
        ({"name": [{"anything-but": {"prefix": "b"}}]}, {"name": "ann"}, True),
        ({"name": [{"anything-but": "bob"}]}, {}, False),
        ({"name": [{"exists": True}]}, {"name": "x"}, True),
        ({"name": [{"exists": True}]}, {}, False),
        ({"name": [{"exists": False}]}, {}, True),
        ({"name": [{"exists": False}]}, {"name": "x"}, False),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.7"}, True),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.7"}, False),
        ({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"}, True),
        ({"a": ["x"], "b": ["y"]}, {"a": "x", "b": "y"}, True),
        ({"a": ["x"], "b": ["y"]}, {"a": "x", "b": "z"}, False),
        ({"a": ["x"], "$or": [{"b": ["1"]}, {"c": ["2"]}]}, {"a": "x", "c": "2"}, True),
        ({"a": ["x"], "$or": [{"b": ["1"]}, {"c": ["2"]}]}, {"a": "x", "c": "3"}, False),
        ({"a": ["x"], "$or": [{"b": ["1"]}, {"c": ["2"]}]}, {"b": "1"}, False),
    ],
)
def test_string_attributes(
    policy: dict[str, Any], attributes: dict[str, str], expected: bool
) -> None:
    assert attributes_match(policy, attributes) is expected


def test_numbers_arrays_and_binary_follow_the_data_type() -> None:
    price = {"price": [{"numeric": [">", 0, "<=", 100]}]}
    assert attributes_match(price, typed(price=("Number", "99.5")))
    assert not attributes_match(price, typed(price=("Number", "100.5")))
    # a String attribute never matches numerically
    assert not attributes_match(price, typed(price=("String", "50")))
    assert attributes_match({"n": [5]}, typed(n=("Number", "5.0")))
    assert not attributes_match({"n": ["5"]}, typed(n=("Number", "5")))
    assert attributes_match({"n": [{"numeric": ["=", 3]}]}, typed(n=("Number", "3")))
    tags = {"tags": ["blue"]}
    assert attributes_match(tags, typed(tags=("String.Array", '["red", "blue"]')))
    assert not attributes_match(tags, typed(tags=("String.Array", '["red"]')))
    assert not attributes_match({"b": [{"exists": True}]}, typed(b=("Binary", "AAAA")))
    assert attributes_match({"n": [{"anything-but": [1, 2]}]}, typed(n=("Number", "3")))


def test_body_scope_nests_and_matches_arrays_and_literals() -> None:
    policy = {"order": {"kind": ["book"], "total": [{"numeric": [">=", 10]}]}}
    assert body_match(policy, {"order": {"kind": "book", "total": 12}})
    assert not body_match(policy, {"order": {"kind": "book", "total": 9}})
    assert not body_match(policy, {"order": "book"})
    assert body_match({"tags": ["x"]}, {"tags": ["y", "x"]})
    assert body_match({"flag": [True]}, {"flag": True})
    assert not body_match({"flag": [True]}, {"flag": "true"})
    assert body_match({"gone": [None]}, {"gone": None})
    assert body_match({"a": {"b": [{"exists": False}]}}, {"x": 1})
    assert body_match({"$or": [{"a": ["1"]}, {"b": {"c": ["2"]}}]}, {"b": {"c": "2"}})
    # a body that is not a JSON object matches nothing
    assert not FilterPolicy.parse({"a": ["x"]}, FilterScope.BODY).matches(None, b"plain text")


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ({"a": []}, "Empty arrays are not allowed"),
        ({"a": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"a": [{"suffix": None}]}, "suffix match pattern must be a string"),
        ({"a": [{"wildcard": "x*"}]}, "Unrecognized match type wildcard"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "Only one key allowed in match expression"),
        ({"a": [["x"]]}, "Match value must be String, number, true, false, or null"),
        ({"a": {"b": ["x"]}}, "Filter policy scope MessageAttributes does not support nested "
                              "filter policy"),
        ({"a": "x"}, '"a" must be an object or an array'),
        ({f"k{i}": ["x"] for i in range(6)}, "Filter policy can not have more than 5 keys"),
        ({"a": list("abcdefghijklm"), "b": list("abcdefghijklm")}, "Filter policy is too complex"),
        ({"a": [{"numeric": [">", 5, "<", 1]}]}, "Bottom must be less than top"),
        ({"a": [{"numeric": ["~", 5]}]}, "Unrecognized numeric range operator: ~"),
        ({"a": [2e9]}, "Numeric values must be between -1.0E9 and 1.0E9 inclusive"),
        ({"a": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
        ({"a": [{"cidr": "10.0.0.0/99"}]}, "Malformed CIDR, one '/' required: 10.0.0.0/99"),
    ],
)  # fmt: skip
def test_invalid_policies_say_why_as_aws_does(policy: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidFilterPolicy) as raised:
        FilterPolicy.parse(policy)
    assert raised.value.reason == reason


def test_nested_keys_count_only_their_leaves() -> None:
    policy = {"a": {"b": ["1"], "c": ["2"], "d": ["3"], "e": ["4"], "f": ["5"]}}
    FilterPolicy.parse(policy, FilterScope.BODY)
    with pytest.raises(InvalidFilterPolicy):
        FilterPolicy.parse({**policy, "g": ["6"]}, FilterScope.BODY)


def test_a_stored_policy_reads_back_and_old_rows_still_read() -> None:
    policy = FilterPolicy.parse({"a": {"b": ["x"]}}, FilterScope.BODY)
    assert FilterPolicy.from_stored(policy.stored()) == policy
    old = FilterPolicy.from_stored('{"color": ["red"]}')
    assert old.scope is FilterScope.ATTRIBUTES
    assert old.matches({"color": "red"}, b"")
