"""``kg hub --once`` again with nothing changed: no Dagster, no run, one line saying so; an
edit refreshed in process without a run (recorded in the instance all the same); and
everything else that changed (a stale fixture, a failed run, ``--run``) still runs.

Runs are counted in the Dagster instance itself; the skip is shown by the count staying
put and by Dagster never being imported, not by timing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kgents_assets.instance import get_instance
from tests.cli.recorders import hub_environment
from tests.executables import project_executable
from tests.repo_helpers import Files

KG = project_executable("kg")
SOURCE = "def main():\n    return helper()\n\n\ndef helper():\n    return 1\n"


@pytest.fixture
def env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    yield from hub_environment(database_url, tmp_path, monkeypatch)


def _kg(root: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    # -X importtime: stderr lists every module the command imported
    return subprocess.run(
        [sys.executable, "-X", "importtime", KG, "hub", "--once", str(root), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _once(root: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    out = _kg(root, env, *extra)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _imported(out: subprocess.CompletedProcess[str]) -> set[str]:
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", out.stderr, re.MULTILINE)
    return {n.split(".")[0] for n in names}


def _runs(env: dict[str, str]) -> int:
    instance = get_instance(Path(env["DAGSTER_HOME"]))
    try:
        return instance.get_runs_count()
    finally:
        instance.dispose()


def _recorded_refreshes(env: dict[str, str], asset: str) -> set[str]:
    """The refresh ids of the asset's runless materializations of partition ``repo``."""
    from dagster import AssetKey, AssetRecordsFilter

    instance = get_instance(Path(env["DAGSTER_HOME"]))
    try:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=["repo"]), limit=20
        ).records
    finally:
        instance.dispose()
    return {
        str(r.asset_materialization.metadata["refresh_id"].value)
        for r in records
        if r.run_id == "" and r.asset_materialization is not None
    }


@pytest.mark.slow
@pytest.mark.timeout(900)  # eleven `kg` processes, five of them real runs
def test_nothing_changed_runs_nothing_and_says_so_in_one_line(
    repo: Callable[[Files], Path], env: dict[str, str]
) -> None:
    root = repo({"app.py": SOURCE})
    first = json.loads(_once(root, env, "--json").stdout)
    assert first["success"] is True and first["run_reason"] == "first run of this repository"
    assert any(k.startswith("hotdata/") for k in first["assets"])
    assert _runs(env) == 1
    markdown = (root / ".agentfs/nodes/app.py/helper.md").read_text()

    again = _once(root, env, "--json")
    second = json.loads(again.stdout)
    assert second["run_id"] is None and second["nothing_changed"] is True
    assert second["last_run_id"] == first["run_id"] and second["success"] is True
    assert re.fullmatch(
        rf"repo: nothing changed since run {first['run_id'][:8]}… \(1 file checked in "
        r"\d+ ms\); 0 assets materialized",
        second["summary"],
    ), second["summary"]
    assert second["assets"] == {} and second["files_checked"] == 1
    assert len(second["fresh_fixtures"]) == len([k for k in first["assets"] if "hotdata/" in k])
    assert "dagster" not in _imported(again)
    assert _runs(env) == 1  # no run was made, not even an empty one
    assert (root / ".agentfs/nodes/app.py/helper.md").read_text() == markdown

    # the person at a terminal gets the same sentence, alone
    said = _once(root, env).stdout.strip()
    assert said.startswith("repo: nothing changed since run ") and "\n" not in said
    assert _runs(env) == 1

    # an edit is refreshed in this process, without a Dagster run, and recorded in the
    # instance as runless materializations of the repository's partition
    (root / "app.py").write_text("def main():\n    return 2\n")
    editing = _once(root, env, "--json")
    edited = json.loads(editing.stdout)
    assert edited["run_reason"] == "1 file(s) new or modified (app.py)"
    assert edited["run_id"] is None and edited["in_process"] is True and edited["success"]
    assert edited["summary"].startswith(
        "repo: 1 file(s) new or modified (app.py); refreshed without a Dagster run in "
    )
    assert edited["assets"]["code_nodes"]["nodes_removed"] == 1
    assert not any(k.startswith("hotdata/") for k in edited["assets"])
    assert edited["checks"] == {}  # not evaluated without a run: --run below does
    assert not (root / ".agentfs/nodes/app.py/helper.md").exists()
    assert _runs(env) == 1
    assert edited["recorded"] == "pending"  # written after the command, by its recorder
    # ... and leaves nothing to do behind it (the next command waits for that record)
    after = json.loads(_once(root, env, "--json").stdout)
    assert after["nothing_changed"] is True and after["last_run_id"] == edited["refresh_id"]
    assert _recorded_refreshes(env, "node_markdown") >= {edited["refresh_id"]}
    assert _runs(env) == 1

    # --run makes the real run of an edit all the same, its checks evaluated
    (root / "app.py").write_text("def main():\n    return 3\n")
    forced = json.loads(_once(root, env, "--json", "--run").stdout)
    assert forced["run_reason"] == "1 file(s) new or modified (app.py)" and forced["run_id"]
    assert forced["success"] is True and forced["checks"]["markdown_in_sync"] is True
    assert "in_process" not in forced
    assert _runs(env) == 2

    # a fixture gone (or past its TTL) is regenerated by a real run
    fixture = Path(env["KGENTS_FIXTURES_DIR"], "flux_states", "demo.json")
    assert fixture.is_file()
    fixture.unlink()
    regenerated = json.loads(_once(root, env, "--json").stdout)
    assert regenerated["run_reason"] == "fixtures to regenerate: flux_states/demo"
    assert "hotdata/flux_states/demo" in regenerated["assets"] and fixture.is_file()
    assert _runs(env) == 3

    # markdown the user deleted is work: the run brings it back
    main_md = (root / ".agentfs/nodes/app.py/main.md").read_bytes()
    shutil.rmtree(root / ".agentfs")
    restored = json.loads(_once(root, env, "--json").stdout)
    assert restored["run_reason"] == "the markdown directory .agentfs/nodes is missing"
    assert (root / ".agentfs/nodes/app.py/main.md").read_bytes() == main_md
    assert _runs(env) == 4

    # a fresh clone where the old one was deleted keeps the name (the CI's own case)
    clone = root.parent / "elsewhere" / root.name
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns(".agentfs"))
    shutil.rmtree(root)
    moved = _once(clone, env, "--json")
    assert f"repository 'repo' was at {root}, which no longer exists; it now follows {clone}" in (
        moved.stderr
    )
    assert json.loads(moved.stdout)["repository"] == "repo"
    assert (clone / ".agentfs/nodes/app.py/main.md").read_bytes() == main_md
    assert _runs(env) == 5


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_after_a_failed_run_the_next_one_runs_even_with_nothing_changed(
    repo: Callable[[Files], Path], env: dict[str, str]
) -> None:
    root = repo({"app.py": SOURCE})
    _once(root, env, "--json")
    (root / "app.py").write_text("def main():\n    return 3\n")
    # an embedder that cannot run fails the catalog step, after code_nodes took the edit
    failed = _kg(root, {**env, "KGENTS_EMBEDDER": "no-such-backend"}, "--json")
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "catalog_embeddings" in json.loads(failed.stdout)["failed_steps"]
    assert _runs(env) == 2

    retried = json.loads(_once(root, env, "--json").stdout)
    assert retried["run_id"] and _runs(env) == 3
    assert "is not known to have ended well" in retried["run_reason"]
    assert retried["success"] is True
    assert json.loads(_once(root, env, "--json").stdout)["nothing_changed"] is True
