"""A new node's state as plain JSON, for a first build under the rules backend.

The general path builds a NodeState for the fresh facts, a diff bundle, runs triage and
``apply_tools``, then ``model_dump_json``: on a first build of Django that was 44k
states and 130k pydantic ``model_construct``/``model_copy`` calls, the largest Python
cost of stage 2. For a node with no state, all of it reduces to what this module does:

- its diff bundle's signals are always ``("new_node",)`` (a new node has no relational
  or structural "before"), so the rules backend decides once per build;
- ``apply_tools`` with no old state returns the fresh facts unchanged (every tool's
  fields equal the base it copies), stamped ``discovered`` plus the update type of every
  approved tool, in that order;
- ``model_dump_json`` of NodeState is pydantic-core's JSON of its fields in order, the
  datetimes printed as pydantic prints them: ``pydantic_core.to_json`` of a dict of the
  same values in the same order (2.4x faster than ``json.dumps`` here), the stamp
  printed once by pydantic itself.

tests/hub/test_new_states.py holds the JSON text of every state of a test repository to
the general path's, byte for byte (``updated`` included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import to_json

from kgents_assets.hub.extract_common import first_sentence
from kgents_assets.hub.field_updates import TOOL_FIELDS, suggest_test_skeleton, summarize
from kgents_assets.hub.markdown import markdown_relpath

#: Callers kept in a node's state and markdown. A popular method name (``save``, ``get``)
#: collects thousands of name-only guesses (confidence 0.5/0.3): the strongest ones are the
#: useful part; the count keeps the rest visible ("... and N more").
CALLERS_CAP = 50

#: (other end's node id, its full name, confidence, other end is a test)
EdgeEnd = tuple[str, str, float, bool]


_BY_NAME = itemgetter(1, 0)
_CONFIDENCE = itemgetter(2)


def ordered_edges(items: Sequence[EdgeEnd], cap: int | None = None) -> list[EdgeEnd]:
    """Edges by name; with ``cap``, only the ``cap`` most confident (ties by name, id)."""
    by_name = sorted(items, key=_BY_NAME)
    if cap is not None and len(by_name) > cap:
        # sorts are stable, in reverse too: the most confident first, ties by name, id
        by_name = sorted(by_name, key=_CONFIDENCE, reverse=True)[:cap]
        by_name.sort(key=_BY_NAME)
    return by_name


def full_name_of(module: str, kind: str, qualname: str) -> str:
    return module if kind == "module" else f"{module}.{qualname}"


def related_tests(
    full_name: str,
    name: str,
    kind: str,
    is_test: bool,
    callers: Sequence[EdgeEnd],
    tests: Mapping[str, set[str]],
) -> list[str]:
    """Tests that call the node, or name it by convention (none for tests and modules)."""
    if is_test or kind == "module":
        return []
    related = {f for _, f, _, test in callers if test} | tests.get(name, set())
    return sorted(related - {full_name})


class _Facts:
    """The attributes ``summarize`` and ``suggest_test_skeleton`` read (StateFacts), taken
    from a state being built: its fields as they are (one C-level dict update, not a
    ``setattr`` per field), plus ``caller_count``."""

    callees: list[dict[str, Any]]
    caller_count: int
    complexity: int
    docstring_summary: str | None
    end_line: int
    file_path: str
    full_name: str
    is_test: bool
    kind: str
    language: str
    name: str
    qualname: str
    related_tests: list[str]
    signature: str
    start_line: int

    def __init__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.caller_count = state["callers_total"]


def stamp_json(now: datetime) -> str:
    """``now`` as NodeState's JSON prints a timestamp (pydantic's format, e.g. ``...Z``)."""
    text: str = TypeAdapter(datetime).dump_python(now, mode="json")
    return text


def updated_of(approved: Sequence[str], stamp: str) -> dict[str, str]:
    """A new node's ``updated``: what ``apply_tools`` stamps when there is no old state."""
    updated = {"discovered": stamp}
    for tool in approved:
        if tool in TOOL_FIELDS:
            updated.setdefault(TOOL_FIELDS[tool][1], stamp)
    return updated


class NewStates:
    """Builds the states of new nodes; one per build (it caches what nodes share)."""

    def __init__(
        self,
        tests: Mapping[str, set[str]],
        updated: dict[str, str],
    ) -> None:
        self._tests = tests
        self._updated = updated
        self._edges: dict[tuple[str, str, float], dict[str, Any]] = {}

    def _edge_json(self, items: list[EdgeEnd]) -> list[dict[str, Any]]:
        out = []
        for node_id, full_name, confidence, _ in items:
            edge = self._edges.get((node_id, full_name, confidence))
            if edge is None:
                edge = self._edges[(node_id, full_name, confidence)] = {
                    "node_id": node_id,
                    "full_name": full_name,
                    "confidence": confidence,
                }
            out.append(edge)
        return out

    def state(
        self, node: Mapping[str, Any], callers: list[EdgeEnd], callees: list[EdgeEnd]
    ) -> dict[str, Any]:
        """The stored state of a new node, from its ``extract`` (a CodeNode's JSON, calls
        and source aside) and its resolved edges: NodeState's fields in their order."""
        kind, name, qualname = node["kind"], node["name"], node["qualname"]
        module: str = node["module"]
        is_test: bool = node.get("is_test", False)
        full_name = full_name_of(module, kind, qualname)
        state: dict[str, Any] = {
            "node_id": node["node_id"],
            "kind": kind,
            "name": name,
            "qualname": qualname,
            "full_name": full_name,
            "file_path": node["file_path"],
            "language": node["language"],
            "start_line": node["start_line"],
            "end_line": node["end_line"],
            "source_hash": node["source_hash"],
            "signature": node["signature"],
            "decorators": list(node.get("decorators", ())),
            "docstring_summary": first_sentence(node.get("docstring")),
            "complexity": node.get("complexity", 1),
            "callers": self._edge_json(ordered_edges(callers, CALLERS_CAP)),
            "callers_total": len(callers),
            "callees": self._edge_json(ordered_edges(callees)),
            "related_tests": related_tests(full_name, name, kind, is_test, callers, self._tests),
            "summary": "",
            "is_test": is_test,
            "suggested_test": None,
            "markdown_path": markdown_relpath(node["file_path"], qualname, node.get("ordinal", 0)),
            "updated": self._updated,
        }
        facts = _Facts(state)
        state["summary"] = summarize(facts)
        state["suggested_test"] = suggest_test_skeleton(facts, module)
        return state


def state_json(state: Mapping[str, Any]) -> str:
    """What ``NodeState.model_dump_json()`` prints for the same state: the same
    serializer (pydantic-core's), given the plain values instead of the model."""
    return to_json(state).decode()
