"""Subscription filter policies: Amazon SNS's whole grammar, for SNS and native subscriptions.

A policy is a JSON object. In ``MessageAttributes`` scope (the default) its keys name message
attributes; in ``MessageBody`` scope they name fields of the JSON body, and may nest. Keys are
ANDed; each leaf is an array of conditions, ORed: a literal (string, number, true, false, null),
or an object of one operator: ``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but``
(a value, a list, or ``{"prefix"|"suffix"|"equals-ignore-case": ...}``), ``numeric``
(``["=", 5]``, ``[">", 0, "<=", 5]``), ``exists`` (true|false) and ``cidr``. ``"$or"`` with an
array of two or more objects matches when any of them does (alongside the other keys).

Validation follows AWS's limits and wording (``Invalid parameter: FilterPolicy: <reason>`` is
how the SNS API says it): at most 5 keys, at most 150 combinations, numbers within ±10⁹ with at
most 5 decimals. EMS's original form, ``{"color": ["red", "blue"]}``, is a policy of this grammar.

Message attributes are EMS's string attributes; the AWS wires keep their data types in one
extra attribute, ``sqs:types`` (see :mod:`ems.sqs.messages`), which is read here so that
``Number`` attributes compare as numbers, ``String.Array`` ones match by element and ``Binary``
ones never match.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ems.core.errors import InvalidRequest

MAX_KEYS: Final = 5
MAX_COMBINATIONS: Final = 150
MAX_POLICY_BYTES: Final = 256 * 1024
MAX_NUMBER: Final = 1e9
MAX_DEPTH: Final = 16
TYPES_ATTRIBUTE: Final = "sqs:types"
_OPERATORS: Final = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"}
)
_COMPARISONS: Final = frozenset({"=", "<", "<=", ">", ">="})
_MISSING: Final = object()


class FilterScope(enum.StrEnum):
    ATTRIBUTES = "MessageAttributes"
    BODY = "MessageBody"


class InvalidFilterPolicy(InvalidRequest):
    """A filter policy that the grammar or its limits refuse; ``reason`` is AWS's wording."""

    def __init__(self, reason: str, *, too_complex: bool = False) -> None:
        super().__init__(f"filter_policy is invalid: {reason}", parameter="filter_policy")
        self.reason = reason
        self.too_complex = too_complex


@dataclass(frozen=True, slots=True)
class FilterPolicy:
    document: Mapping[str, Any]
    scope: FilterScope = FilterScope.ATTRIBUTES

    @classmethod
    def parse(
        cls,
        value: object,
        scope: FilterScope = FilterScope.ATTRIBUTES,
        *,
        max_keys: int = MAX_KEYS,
    ) -> FilterPolicy:
        """Check ``value`` (a decoded JSON object) against the grammar and AWS's limits
        (native subscriptions allow the 10 keys they always have)."""
        if not isinstance(value, dict):
            raise InvalidFilterPolicy("Filter policy must be a JSON object.")
        if len(json.dumps(value)) > MAX_POLICY_BYTES:
            raise InvalidFilterPolicy("Filter policy is larger than 256 KB.", too_complex=True)
        alternatives = _check_object(value, scope, depth=1)
        for keys, combinations in alternatives:
            if keys > max_keys:
                raise InvalidFilterPolicy(
                    f"Filter policy can not have more than {max_keys} keys", too_complex=True
                )
            if combinations > MAX_COMBINATIONS:
                raise InvalidFilterPolicy("Filter policy is too complex", too_complex=True)
        return cls(value, scope)

    @classmethod
    def from_json(cls, text: str, scope: FilterScope = FilterScope.ATTRIBUTES) -> FilterPolicy:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            raise InvalidFilterPolicy("Filter policy is not valid JSON.") from None
        return cls.parse(document, scope)

    def stored(self) -> str:
        """How a store keeps it (``$`` cannot start an attribute name, so no policy key is
        mistaken for these)."""
        return json.dumps({"$scope": self.scope.value, "$policy": self.document})

    @classmethod
    def from_stored(cls, text: str) -> FilterPolicy:
        document = json.loads(text)
        if "$policy" in document:
            return cls(document["$policy"], FilterScope(document["$scope"]))
        # written before the whole grammar: {"name": ["value", ...]}
        return cls(document)

    def matches(self, attributes: Mapping[str, str] | None, body: bytes) -> bool:
        if self.scope is FilterScope.BODY:
            try:
                parsed = json.loads(body)
            except (ValueError, RecursionError):
                return False
            return isinstance(parsed, dict) and _match_object(self.document, parsed)
        return _match_object(self.document, _typed(attributes or {}))


# validation


def _check_object(node: Mapping[str, Any], scope: FilterScope, depth: int) -> list[tuple[int, int]]:
    """The (leaf keys, combinations) of each alternative the object stands for."""
    if depth > MAX_DEPTH:
        raise InvalidFilterPolicy("Filter policy nests too deeply.")
    if not node:
        raise InvalidFilterPolicy("Filter policy must not be an empty object.")
    alternatives = [(0, 1)]
    for key, value in node.items():
        if key == "$or" and isinstance(value, list) and len(value) >= 2:
            if not all(isinstance(branch, dict) for branch in value):
                raise InvalidFilterPolicy("$or must be an array of at least 2 objects")
            options = [a for branch in value for a in _check_object(branch, scope, depth + 1)]
        elif isinstance(value, dict):
            if scope is FilterScope.ATTRIBUTES:
                raise InvalidFilterPolicy(
                    "Filter policy scope MessageAttributes does not support nested filter policy"
                )
            options = _check_object(value, scope, depth + 1)
        elif isinstance(value, list):
            options = [(1, _check_conditions(key, value))]
        else:
            raise InvalidFilterPolicy(f'"{key}" must be an object or an array')
        alternatives = [(k1 + k2, c1 * c2) for k1, c1 in alternatives for k2, c2 in options]
        if len(alternatives) > MAX_COMBINATIONS:
            raise InvalidFilterPolicy("Filter policy is too complex", too_complex=True)
    return alternatives


def _check_conditions(key: str, conditions: list[Any]) -> int:
    if not conditions:
        raise InvalidFilterPolicy("Empty arrays are not allowed")
    for condition in conditions:
        if isinstance(condition, dict):
            _check_operator(condition)
        elif isinstance(condition, list):
            raise InvalidFilterPolicy("Match value must be String, number, true, false, or null")
        else:
            _check_literal(condition)
    return len(conditions)


def _check_literal(value: object) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float):
        _check_number(value)
        return
    raise InvalidFilterPolicy("Match value must be String, number, true, false, or null")


def _check_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidFilterPolicy("Value of numeric operator must be numeric")
    if abs(value) > MAX_NUMBER:
        raise InvalidFilterPolicy("Numeric values must be between -1.0E9 and 1.0E9 inclusive")
    if isinstance(value, float) and round(value, 5) != value:
        raise InvalidFilterPolicy("Numeric values must have at most 5 digits after the point")
    return float(value)


def _check_operator(condition: Mapping[str, Any]) -> None:
    if len(condition) != 1:
        raise InvalidFilterPolicy("Only one key allowed in match expression")
    ((operator, operand),) = condition.items()
    if operator not in _OPERATORS:
        raise InvalidFilterPolicy(f"Unrecognized match type {operator}")
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise InvalidFilterPolicy(f"{operator} match pattern must be a string")
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise InvalidFilterPolicy("exists match pattern must be either true or false.")
    elif operator == "cidr":
        if not isinstance(operand, str):
            raise InvalidFilterPolicy("cidr match pattern must be a string")
        try:
            ipaddress.ip_network(operand, strict=False)
        except ValueError:
            raise InvalidFilterPolicy(f"Malformed CIDR, one '/' required: {operand}") from None
    elif operator == "numeric":
        _check_numeric(operand)
    else:
        _check_anything_but(operand)


def _check_numeric(operand: object) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise InvalidFilterPolicy("Value of numeric operator must be an array of 2 or 4 items")
    for index in range(0, len(operand), 2):
        if operand[index] not in _COMPARISONS:
            raise InvalidFilterPolicy(f"Unrecognized numeric range operator: {operand[index]}")
        _check_number(operand[index + 1])
    if len(operand) == 4:
        (low_op, low, high_op, high) = operand
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise InvalidFilterPolicy("Too many elements in numeric expression")
        if low >= high:
            raise InvalidFilterPolicy("Bottom must be less than top")


def _check_anything_but(operand: object) -> None:
    if isinstance(operand, dict):
        if len(operand) != 1:
            raise InvalidFilterPolicy("Only one key allowed in match expression")
        ((operator, pattern),) = operand.items()
        if operator not in ("prefix", "suffix", "equals-ignore-case"):
            raise InvalidFilterPolicy(f"Unsupported anything-but pattern: {operator}")
        if not isinstance(pattern, str | list):
            raise InvalidFilterPolicy(f"{operator} match pattern must be a string")
        return
    if isinstance(operand, list):
        if not operand:
            raise InvalidFilterPolicy("Empty arrays are not allowed")
        for item in operand:
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise InvalidFilterPolicy(
                    "Inside anything but list, start|null|boolean is not supported."
                )
            if not isinstance(item, str):
                _check_number(item)
        return
    if isinstance(operand, bool) or not isinstance(operand, str | int | float):
        raise InvalidFilterPolicy("anything-but match pattern must be a string, a number or a list")
    if not isinstance(operand, str):
        _check_number(operand)


# matching


def _typed(attributes: Mapping[str, str]) -> dict[str, Any]:
    """Attribute values as the grammar compares them: numbers, arrays, strings (or absent)."""
    types: dict[str, str] = {}
    if TYPES_ATTRIBUTE in attributes:
        try:
            types = json.loads(attributes[TYPES_ATTRIBUTE])
        except (ValueError, RecursionError):
            types = {}
    values: dict[str, Any] = {}
    for name, text in attributes.items():
        kind = types.get(name, "String") if name != TYPES_ATTRIBUTE else "Binary"
        if kind.startswith("Binary"):
            continue  # never matched, as in SNS
        if kind.startswith("Number"):
            try:
                values[name] = _Number(float(text))
            except ValueError:
                values[name] = text
        elif kind.startswith("String.Array"):
            try:
                items = json.loads(text)
            except (ValueError, RecursionError):
                items = text
            values[name] = items if isinstance(items, list) else text
        else:
            values[name] = text
    return values


class _Number(float):
    """A Number attribute: compared as a number, never as a string."""


def _match_object(policy: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    for key, expected in policy.items():
        if key == "$or" and isinstance(expected, list) and len(expected) >= 2:
            if not any(_match_object(branch, data) for branch in expected):
                return False
            continue
        value = data.get(key, _MISSING)
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                # a nested policy over a missing field matches only where it asks for absence
                if not _match_object(expected, {}):
                    return False
                continue
            if not _match_object(expected, value):
                return False
        elif not _match_leaf(expected, value):
            return False
    return True


def _match_leaf(conditions: list[Any], value: Any) -> bool:
    if value is _MISSING:
        # only {"exists": false} matches an absent key (anything-but needs one to compare)
        return any(isinstance(c, dict) and c.get("exists") is False for c in conditions)
    values = value if isinstance(value, list) else [value]
    return any(_match_one(c, v) for c in conditions for v in values) or any(
        isinstance(c, dict) and c.get("exists") is True for c in conditions
    )


def _match_one(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    ((operator, operand),) = condition.items()
    if operator == "exists":
        return bool(operand)
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == operand.casefold()
    if operator == "numeric":
        return _numeric(operand, value)
    if operator == "cidr":
        return _in_network(operand, value)
    return _anything_but(operand, value)


def _equal(literal: Any, value: Any) -> bool:
    if isinstance(literal, bool) or literal is None:
        return value is literal
    if isinstance(literal, int | float):
        return _is_number(value) and float(value) == float(literal)
    return isinstance(value, str) and value == literal


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric(operand: list[Any], value: Any) -> bool:
    if not _is_number(value):
        return False
    number = float(value)
    for index in range(0, len(operand), 2):
        op, bound = operand[index], float(operand[index + 1])
        if not {
            "=": number == bound,
            "<": number < bound,
            "<=": number <= bound,
            ">": number > bound,
            ">=": number >= bound,
        }[op]:
            return False
    return True


def _in_network(network: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        ((operator, pattern),) = operand.items()
        patterns = pattern if isinstance(pattern, list) else [pattern]
        if not isinstance(value, str):
            return False
        return not any(_match_one({operator: p}, value) for p in patterns)
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_equal(item, value) for item in excluded)
