"""A refresh with nothing to do skips its downstream steps, visibly, and loses nothing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, ExecuteInProcessResult, instance_for_test

from kgents_assets.hub import dirty
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.repos.registry import add_repository
from kgents_assets.runner import materialize_code
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "noop"
FILES: Files = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def a():\n    return b()\n\n\ndef b():\n    return 1\n",
}


@pytest.fixture
def instance(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> Iterator[DagsterInstance]:
    Store(url=database_url).migrate()
    monkeypatch.setenv("KGENTS_DATABASE_URL", database_url)
    monkeypatch.setenv("KGENTS_FIXTURES_DIR", str(tmp_path / "fixtures"))
    with instance_for_test() as inst:
        yield inst


def _steps(result: ExecuteInProcessResult, kind: DagsterEventType) -> set[str]:
    return {str(e.step_key) for e in result.all_events if e.event_type == kind}


def _materialized(result: ExecuteInProcessResult) -> set[str]:
    return {
        e.step_materialization_data.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }


def test_a_refresh_with_nothing_to_do_skips_downstream_steps_and_their_checks(
    instance: DagsterInstance, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    add_repository(Store(url=os.environ["KGENTS_DATABASE_URL"]), REPO, str(root))
    first = materialize_code(REPO, None, instance=instance)
    assert {"code_nodes", "node_state", "node_markdown"} <= _materialized(first)
    markdown = {p: p.read_text() for p in (root / NODES_DIR).rglob("*.md")}

    idle = materialize_code(REPO, None, instance=instance)
    assert idle.success
    assert _materialized(idle) == set()
    skipped = _steps(idle, DagsterEventType.STEP_SKIPPED)
    assert {"node_state", "node_markdown"} <= skipped
    assert any("markdown_in_sync" in s for s in skipped)  # a skipped asset's check is skipped
    assert not _steps(idle, DagsterEventType.ASSET_CHECK_EVALUATION)
    observed = [
        e.event_specific_data.asset_observation  # type: ignore[union-attr]
        for e in idle.all_events
        if e.event_type == DagsterEventType.ASSET_OBSERVATION
    ]
    assert [o.metadata["outcome"].value for o in observed] == [
        "nothing changed, downstream skipped"
    ]
    assert observed[0].partition == REPO
    # the run is in the instance with the skipped steps, as the UI shows it
    stored = instance.get_records_for_run(idle.run_id, of_type=DagsterEventType.STEP_SKIPPED)
    assert {r.event_log_entry.step_key for r in stored.records} == skipped
    assert {p: p.read_text() for p in (root / NODES_DIR).rglob("*.md")} == markdown

    # an edit after a skipped run is refreshed exactly as before
    (root / "pkg/core.py").write_text("def a():\n    return 2\n")
    edited = materialize_code(REPO, ["pkg/core.py"], instance=instance)
    assert {"code_nodes", "node_state", "node_markdown"} <= _materialized(edited)
    assert not (root / NODES_DIR / "pkg/core.py/b.md").exists()
    assert (root / NODES_DIR / "pkg/core.py/a.md").read_text() != markdown[
        root / NODES_DIR / "pkg/core.py/a.md"
    ]


def test_work_left_by_a_failed_stage_is_not_skipped(
    instance: DagsterInstance, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    add_repository(Store(url=os.environ["KGENTS_DATABASE_URL"]), REPO, str(root))
    assert materialize_code(REPO, None, instance=instance).success
    target = root / NODES_DIR / "pkg/core.py/a.md"
    # a pending markdown mark (what a failed node_markdown leaves) makes the next run do it
    store = Store(url=os.environ["KGENTS_DATABASE_URL"])
    with store.transaction() as conn:
        node_id = conn.execute(
            "SELECT node_id FROM hub_nodes WHERE repo = %s AND name = 'a'", (REPO,)
        ).fetchone()[0]
        dirty.mark_dirty(conn, REPO, dirty.MARKDOWN, [node_id], "left by a failed run")
    target.unlink()
    again = materialize_code(REPO, None, instance=instance)
    assert "node_markdown" in _materialized(again)
    assert target.exists()
