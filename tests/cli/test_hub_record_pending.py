"""``kg hub --once`` after an edit ends before its Dagster record is written (a detached
recorder writes it), and a command started while that record is pending waits for it,
then decides on what it left: nothing changed, so nothing to do.

Real ``kg`` processes, a real instance; the record is held pending by locking the
instance's event log (``dagster_writes_blocked``), so the window is there by construction,
not by timing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.recorders import dagster_writes_blocked, waiting_on_record_lock
from tests.cli.test_hub_once_noop import KG, SOURCE, _once, _recorded_refreshes, _runs, env
from tests.repo_helpers import Files

__all__ = ["env"]  # the fixture, shared with test_hub_once_noop


def _waiting_reader(database_url: str, proc: subprocess.Popen[str], timeout_s: float) -> None:
    """Until a backend waits on the record lock (the second command's decide)."""
    deadline = time.monotonic() + timeout_s
    while not waiting_on_record_lock(database_url):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the second command never waited for the record"
        time.sleep(0.05)  # polling a condition: pg_locks has no notification


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_command_during_a_pending_record_waits_for_it_then_has_nothing_to_do(
    repo: Callable[[Files], Path], env: dict[str, str]
) -> None:
    url = env["KGENTS_DATABASE_URL"]
    root = repo({"app.py": SOURCE})
    _once(root, env, "--json")  # the first run: a real Dagster run, the instance's tables
    (root / "app.py").write_text("def main():\n    return 2\n")
    with dagster_writes_blocked(url):
        # the command ends although its record cannot be written yet
        edited = json.loads(_once(root, env, "--json").stdout)
        assert edited["in_process"] is True and edited["success"] is True
        assert edited["recorded"] == "pending"
        assert "6 assets being recorded in Dagster (" in edited["summary"]
        assert not (root / ".agentfs/nodes/app.py/helper.md").exists()  # results are in
        second = subprocess.Popen(
            [sys.executable, KG, "hub", "--once", str(root), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        _waiting_reader(url, second, timeout_s=120)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-3000:]
    after = json.loads(out)
    assert after["nothing_changed"] is True, after
    assert after["last_run_id"] == edited["refresh_id"]
    assert _recorded_refreshes(env, "node_markdown") >= {edited["refresh_id"]}
    assert _runs(env) == 1  # no run: the edit was refreshed in process, then nothing to do
