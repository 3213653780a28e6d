"""``kg hub --once`` skips its run only when nothing at all moved: each thing that could
have moved, on its own, sends it through the real run (decided on a real store, real files
and real fixtures; the end-to-end runs are in test_hub_once_noop.py)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kgents_assets.cli.hub_skip import (
    SMALL_CHANGE,
    Decision,
    configuration,
    decide,
    fixture_states,
)
from kgents_assets.hotdata.catalog import load_specs
from kgents_assets.hotdata.registry import HotDataRegistry
from kgents_assets.hub import dirty
from kgents_assets.hub.clean_run import forget_clean_run, read_clean_run, record_clean_run
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.repos.registry import get_repository, record_refresh
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "app"
RUN = "11111111-2222-3333-4444-555555555555"
FILES: Files = {"app.py": "def main():\n    return helper()\n\n\ndef helper():\n    return 1\n"}


@pytest.fixture
def fixtures_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every registered fixture generated, as a run that refreshed them leaves them."""
    directory = tmp_path / "fixtures"
    monkeypatch.setenv("KGENTS_FIXTURES_DIR", str(directory))
    monkeypatch.delenv("KGENTS_EMBEDDER", raising=False)
    asyncio.run(HotDataRegistry(directory, load_specs()).refresh_all_stale())
    return directory


def _clean_run(store: Store, root: Path, run_id: str = RUN) -> None:
    """What a successful `kg hub --once` leaves: every stage done, the run recorded."""
    refresh_repository(store, root, repo=REPO, workers=1)
    with store.transaction() as conn:
        dirty.clear_marks(conn, REPO, dirty.CATALOG, list(dirty.dirty_marks(conn, REPO, "catalog")))
        record_refresh(conn, REPO, run_id=run_id, sha=None, at=datetime.now(UTC))
        record_clean_run(conn, REPO, run_id, configuration(conn))


def _decision(store: Store, root: Path) -> Decision:
    with store.connect() as conn:
        return decide(conn, get_repository(store, REPO), root, [])


def _decide(store: Store, root: Path, migrated: list[str] | None = None) -> tuple[bool, str]:
    with store.connect() as conn:
        decision = decide(conn, get_repository(store, REPO), root, migrated or [])
    return decision.run, decision.reason


def test_nothing_moved_is_the_only_skip(
    store: Store, repo: Callable[[Files], Path], fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repo(FILES)
    _clean_run(store, root)
    with store.connect() as conn:
        decision = decide(conn, get_repository(store, REPO), root, [])
    assert (decision.run, decision.last_run_id) == (False, RUN)
    assert decision.check is not None and decision.check.files_checked == 1
    assert decision.fresh_fixtures == sorted(fixture_states())

    # a schema migration applied by this very start
    assert _decide(store, root, ["0999_new_table"]) == (
        True,
        "the store's schema was migrated (0999_new_table)",
    )

    # another embedder configured
    monkeypatch.setenv("KGENTS_EMBEDDER", "hashing:64")
    run, reason = _decide(store, root)
    assert run and "configuration changed" in reason
    monkeypatch.delenv("KGENTS_EMBEDDER")
    assert _decide(store, root)[0] is False

    # a pending mark (a stage that did not finish)
    with store.connect() as conn:
        node_id = conn.execute("SELECT node_id FROM hub_nodes LIMIT 1").fetchone()[0]
    with store.transaction() as conn:
        dirty.mark_dirty(conn, REPO, dirty.STATE, [node_id], "test")
    run, reason = _decide(store, root)
    assert run and "1 node(s) marked" in reason
    assert not _decision(store, root).small_change  # marks alone: the run finishes them
    with store.transaction() as conn:
        dirty.clear_marks(conn, REPO, dirty.STATE, [node_id])
    assert _decide(store, root)[0] is False

    # a fixture past its TTL, or gone
    registry = HotDataRegistry(fixtures_dir, load_specs())
    victim = registry.list_all()[0]
    Path(registry.get_status(victim).path).unlink()
    run, reason = _decide(store, root)
    assert run and reason == f"fixtures to regenerate: {victim}"
    asyncio.run(registry.refresh_all_stale())
    assert _decide(store, root)[0] is False

    # a later run of the repository from elsewhere (a sensor, the daemon, the UI)
    with store.transaction() as conn:
        record_refresh(conn, REPO, run_id="99999999-later", sha=None, at=datetime.now(UTC))
    run, reason = _decide(store, root)
    assert run and reason == "another run (99999999) refreshed it since"
    with store.transaction() as conn:
        record_refresh(conn, REPO, run_id=RUN, sha=None, at=datetime.now(UTC))
    assert _decide(store, root)[0] is False

    # a run that failed or died: its start forgot the record and no success wrote it back
    with store.transaction() as conn:
        forget_clean_run(conn, REPO)
        assert read_clean_run(conn, REPO) is None
    run, reason = _decide(store, root)
    assert run and reason == "the last run (11111111) is not known to have ended well"
    with store.transaction() as conn:
        record_clean_run(conn, REPO, RUN, configuration(conn))

    # and an edit, last (it cannot be undone: the file's mtime moved): refreshed in process
    (root / "app.py").write_text("def main():\n    return 2\n")
    run, reason = _decide(store, root)
    assert run and reason == "1 file(s) new or modified (app.py)"
    assert _decision(store, root).small_change


def test_only_a_small_change_after_a_clean_run_is_refreshed_without_a_run(
    store: Store, repo: Callable[[Files], Path], fixtures_dir: Path
) -> None:
    root = repo(FILES)
    _clean_run(store, root)
    for n in range(SMALL_CHANGE):
        (root / f"new_{n:02}.py").write_text(f"def f{n}():\n    return {n}\n")
    decision = _decision(store, root)
    assert decision.reason.startswith(f"{SMALL_CHANGE} file(s) new or modified")
    assert decision.small_change
    # one more (a branch switch's hundreds): the run and its parallel steps
    (root / "app.py").unlink()
    decision = _decision(store, root)
    assert decision.reason.startswith(f"{SMALL_CHANGE} file(s) new or modified; 1 file(s) deleted")
    assert decision.run and not decision.small_change
    (root / "app.py").write_text(FILES["app.py"])
    for n in range(SMALL_CHANGE - 1):
        (root / f"new_{n:02}.py").unlink()
    assert _decision(store, root).small_change
    # the markdown gone as well: more work than the files', the run does it
    shutil.rmtree(root / ".agentfs" / "nodes")
    decision = _decision(store, root)
    assert decision.run and "is missing" in decision.reason and not decision.small_change
    # anything else that sends the command to the run keeps it there, files changed or not
    with store.transaction() as conn:
        forget_clean_run(conn, REPO)
    decision = _decision(store, root)
    assert decision.run and not decision.small_change


def test_a_repository_never_run_runs(
    store: Store, repo: Callable[[Files], Path], fixtures_dir: Path
) -> None:
    from kgents_assets.repos.registry import add_repository

    root = repo(FILES)
    add_repository(store, REPO, str(root))
    assert _decide(store, root) == (True, "first run of this repository")
