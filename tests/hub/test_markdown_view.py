"""A stored state's JSON rendered through StateView (the first build's markdown path) gives
the bytes the NodeState it stands for gives (every other path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kgents_assets.hub.generated_tests import GeneratedTest
from kgents_assets.hub.markdown import StateView, render_markdown
from kgents_assets.hub.models import Edge, NodeState, trusted_node_state

AT = datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC)


def _state(**extra: Any) -> NodeState:
    fields: dict[str, Any] = {
        "node_id": "shop:0123456789abcdef0123",
        "kind": "method",
        "name": "save",
        "qualname": "Model.save",
        "full_name": "shop.models.Model.save",
        "file_path": "shop/models.py",
        "language": "python",
        "start_line": 3,
        "end_line": 9,
        "source_hash": "abc",
        "signature": "def save(self, *, force: bool = False)",
        "decorators": ["property", "functools.cache"],
        "complexity": 4,
        "callers": [
            Edge(node_id=f"shop:{i:020x}", full_name=f"a.b{i}", confidence=0.3) for i in range(3)
        ],
        "callers_total": 120,
        "callees": [Edge(node_id="shop:1", full_name="shop.models.Model.clean", confidence=0.9)],
        "related_tests": ["tests.test_models.test_save"],
        "summary": "Method `Model.save` in `shop/models.py` lines 3-9. Saves.",
        "suggested_test": "def test_save() -> None:\n    ...\n",
        "markdown_path": ".agentfs/nodes/shop/models.py/Model.save.md",
        "updated": {"discovered": AT, "callers": AT.replace(second=9)},
    }
    return NodeState(**{**fields, **extra})


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"callers_total": None, "decorators": [], "suggested_test": None, "callees": []},
        {"kind": "module", "signature": "", "related_tests": [], "updated": {}},
    ],
)
def test_the_view_renders_what_the_model_renders(extra: dict[str, Any]) -> None:
    state = _state(**extra)
    stored = json.loads(state.model_dump_json())
    generated = GeneratedTest(pytest_id="t.py::test_save", outcome="passed", exit_code=0,
                              duration_s=0.25, at=AT)  # fmt: skip
    for gen in (None, generated):
        expected = render_markdown(trusted_node_state(stored), gen)
        assert render_markdown(StateView(stored, {}), gen) == expected
        assert render_markdown(state, gen) == expected


def test_a_state_stored_before_newer_fields_renders_alike() -> None:
    stored = json.loads(_state().model_dump_json())
    for older in ("callers_total", "decorators", "suggested_test", "related_tests"):
        del stored[older]
    assert render_markdown(StateView(stored, {})) == render_markdown(trusted_node_state(stored))


def test_the_updated_line_follows_each_states_own_zone() -> None:
    """The line is cached by stamps: an equal instant in another zone is another line."""
    from datetime import timedelta, timezone

    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    assert plus_two == AT
    utc = render_markdown(_state(updated={"discovered": AT}))
    other = render_markdown(_state(updated={"discovered": plus_two}))
    assert "discovered 2026-12-02T01:02:03+00:00</sub>" in utc
    assert "discovered 2026-12-02T03:02:03+02:00</sub>" in other
