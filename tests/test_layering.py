"""The import graph of ``src/ems`` has no cycles and follows the layers (docs/architecture.md).

Every import statement counts: at module level, inside functions and under ``TYPE_CHECKING``
alike, since a type-only import is still a dependency a reader has to follow. The arrows point
down: the APIs (``server``, ``sqs``, ``sns``) use ``core``; core's services use the storage
interfaces; storage (interfaces and drivers) speaks only core's vocabulary (models, errors,
limits, ids, rules), never core's services. There are no exceptions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"

# what each layer may import (besides itself); a new arrow is a design decision, made here
ALLOWED: dict[str, frozenset[str]] = {
    "version": frozenset(),
    "core vocabulary": frozenset(),
    "asgi": frozenset({"core vocabulary"}),
    "storage": frozenset({"core vocabulary"}),
    "storage drivers": frozenset({"storage", "core vocabulary"}),
    "core": frozenset({"core vocabulary", "storage"}),
    "delivery": frozenset({"core vocabulary", "storage"}),
    # configuration parses database URLs and SMTP targets with the parts that use them
    "config": frozenset({"core vocabulary", "storage", "delivery"}),
    # SQS accounts are parsed from the same credentials setting as the native API's
    "sqs": frozenset({"asgi", "core", "core vocabulary", "config"}),
    # SNS delivers to SQS queues by ARN and answers in SQS's wire formats
    "sns": frozenset({"asgi", "core", "core vocabulary", "storage", "sqs"}),
    "server": frozenset(
        {
            "asgi",
            "core",
            "core vocabulary",
            "storage",
            "delivery",
            "config",
            "sqs",
            "sns",
            "version",
        }
    ),
    "serving": frozenset({"server", "storage", "config", "version"}),
    # the client verifies webhook signatures with the code that makes them
    "client": frozenset({"delivery", "version"}),
    "errors": frozenset({"client"}),
    "ems": frozenset({"client", "errors", "version"}),
    "logs": frozenset(),
    "bench": frozenset({"client", "version"}),
    "cli": frozenset(
        {
            "bench",
            "client",
            "config",
            "logs",
            "server",
            "serve_flags",
            "serving",
            "storage",
            "storage drivers",
            "version",
            "workers",
        }
    ),
    # `ems serve`'s flags and its worker processes
    "serve_flags": frozenset(),
    "workers": frozenset(),
    "__main__": frozenset({"cli"}),
}
BELOW_THE_APIS = ("core", "core vocabulary", "storage", "storage drivers", "delivery")
APIS = ("server", "sqs", "sns")


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / "ems").rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[str]:
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                # `from ems.core import limits` imports the module ems.core.limits
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in MODULES else target


@cache
def _graph() -> dict[str, frozenset[str]]:
    return {
        module: frozenset(t for t in _imported(module, path) if t in MODULES and t != module)
        for module, path in MODULES.items()
    }


@cache
def _reaches_storage(module: str) -> bool:
    seen: set[str] = set()
    stack = [module]
    while stack:
        for target in _graph()[stack.pop()]:
            if target.startswith("ems.storage"):
                return True
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return False


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "ems"
    if parts[1] == "core":
        # a core module that uses a store is a service; the rest is the vocabulary stores share
        return "core" if _reaches_storage(module) else "core vocabulary"
    if parts[1] == "storage" and len(parts) > 2 and parts[2] in ("sqlite", "postgres"):
        return "storage drivers"
    return parts[1]


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _arrows() -> dict[tuple[str, str], list[str]]:
    arrows: dict[tuple[str, str], list[str]] = {}
    for module, targets in _graph().items():
        for target in targets:
            if layer(module) != layer(target):
                arrows.setdefault((layer(module), layer(target)), []).append(
                    f"{module} -> {target}"
                )
    return arrows


def test_the_graph_is_read_whole() -> None:
    graph = _graph()
    assert {"ems.asgi", "ems.core.ids", "ems.server.app", "ems.storage.base"} <= set(graph)
    assert "ems.core.ids" in graph["ems.storage.roles.outbox"]
    assert layer("ems.core.queues") == "core"
    assert layer("ems.core.models") == "core vocabulary"


def test_no_module_is_part_of_an_import_cycle() -> None:
    assert _cycles(dict(_graph())) == []


def test_the_layers_form_no_cycle() -> None:
    assert _cycles(ALLOWED) == []
    assert not any(name in allowed for name, allowed in ALLOWED.items())


def test_every_import_follows_an_allowed_arrow() -> None:
    unknown = {layer(module) for module in MODULES} - set(ALLOWED)
    assert unknown == set(), "a new package: give it its place in ALLOWED"
    against = {
        arrow: examples
        for arrow, examples in _arrows().items()
        if arrow[1] not in ALLOWED[arrow[0]]
    }
    assert against == {}


def test_nothing_below_the_apis_imports_them() -> None:
    upward = [
        example
        for (source, target), examples in _arrows().items()
        if source in BELOW_THE_APIS and target in APIS
        for example in examples
    ]
    assert upward == []


def test_storage_imports_no_core_service() -> None:
    services = sorted(
        example
        for (source, target), examples in _arrows().items()
        if source.startswith("storage") and target == "core"
        for example in examples
    )
    assert services == []


def test_a_cycle_would_be_found() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert _cycles(graph) == [["a", "b", "c"]]
