"""Native subscriptions' filter policies: SNS's grammar (:mod:`ems.core.filter_policy`) with the
native API's conventions (attribute names ignore case) and limits."""

from __future__ import annotations

from typing import Any, Final

from ems.core import limits
from ems.core.errors import InvalidRequest
from ems.core.filter_policy import FilterPolicy, FilterScope
from ems.core.topic_models import TopicMessage

MAX_FILTER_KEYS: Final = 10
MAX_FILTER_VALUES: Final = 100


def parse_filter_policy(value: object, scope: object = None) -> FilterPolicy | None:
    """A native subscription's policy: SNS's grammar (:mod:`ems.core.filter_policy`), whose
    simplest form is ``{"attribute": ["v1", "v2"], ...}``. In attribute scope the names ignore
    case, as message attributes do; the native API keeps its limits of 10 attributes and 100
    values in all."""
    if value is None:
        return None
    try:
        chosen = FilterScope(scope or FilterScope.ATTRIBUTES.value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidRequest(
            "filter_policy_scope must be MessageAttributes or MessageBody.",
            parameter="filter_policy_scope",
        ) from None
    if not isinstance(value, dict) or not value:
        raise InvalidRequest(
            "filter_policy must be an object of 1 to 10 attributes, each with a list of allowed "
            'values: {"color": ["red", "blue"]}.',
            parameter="filter_policy",
        )
    document = _folded(value) if chosen is FilterScope.ATTRIBUTES else value
    policy = FilterPolicy.parse(document, chosen, max_keys=MAX_FILTER_KEYS)
    total = _conditions(document)
    if total > MAX_FILTER_VALUES:
        raise InvalidRequest(
            f"filter_policy allows at most {MAX_FILTER_VALUES} values in all; got {total}.",
            parameter="filter_policy",
        )
    return policy


def _folded(document: dict[str, Any]) -> dict[str, Any]:
    """Attribute names in lower case (``$or`` branches too), checked as attribute names."""
    names = [name for name in document if name != "$or"]
    checked = limits.check_message_attributes(dict.fromkeys(names, ""))
    folded = dict(zip(checked, (document[n] for n in names), strict=True))
    branches = document.get("$or")
    if isinstance(branches, list) and all(isinstance(b, dict) and b for b in branches):
        folded["$or"] = [_folded(branch) for branch in branches]
    elif "$or" in document:
        folded["$or"] = branches
    return folded


def _conditions(node: object) -> int:
    if isinstance(node, dict):
        return sum(_conditions(value) for value in node.values())
    if isinstance(node, list):
        return sum(_conditions(v) if isinstance(v, dict | list) else 1 for v in node) or 1
    return 1


def matches(policy: FilterPolicy | None, message: TopicMessage) -> bool:
    """Whether a subscription with ``policy`` gets ``message``."""
    return policy is None or policy.matches(message.attributes, message.body)
