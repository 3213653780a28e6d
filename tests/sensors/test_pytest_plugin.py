"""The pytest plugin, loaded through its entry point in a real pytest subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from sensors.events import TestFailed, TestSessionComplete
from sensors.journal import EventJournal

SUITE = """
import pytest

def test_ok():
    assert 1 + 1 == 2

def test_broken():
    assert [1, 2] == [1, 3]

@pytest.fixture
def bad():
    raise RuntimeError("fixture exploded")

def test_setup_error(bad):
    pass

@pytest.mark.skip(reason="later")
def test_skipped():
    pass
"""


def _pytest(
    tmp_path: Path, store: Store, *args: str, enable: str | None
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if k != "KGENTS_EVENTS"}
    env[DATABASE_URL_ENV] = store.url
    if enable is not None:
        env["KGENTS_EVENTS"] = enable
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-p",
            "no:kmock",  # kmock's plugin needs pytest-asyncio, which is not installed
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_off_by_default_records_nothing(tmp_path: Path, store: Store) -> None:
    proc = _pytest(tmp_path, store, enable=None)
    assert proc.returncode == 1, proc.stdout
    assert "kgents-events" not in proc.stdout
    assert EventJournal(store).count() == 0


def test_env_var_records_started_passed_failed_and_session(tmp_path: Path, store: Store) -> None:
    proc = _pytest(tmp_path, store, enable="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "kgents-events: 8 events journaled" in proc.stdout, proc.stdout
    journal = EventJournal(store)
    assert journal.count("test_started") == 4
    assert journal.count("test_passed") == 1
    failed = [e.event for e in journal.read_after(0, kinds=["test_failed"])]
    assert all(isinstance(e, TestFailed) for e in failed)
    by_id = {e.nodeid: e for e in failed if isinstance(e, TestFailed)}
    assert by_id["test_suite.py::test_broken"].phase == "call"
    assert "assert [1, 2] == [1, 3]" in by_id["test_suite.py::test_broken"].message
    assert by_id["test_suite.py::test_setup_error"].phase == "setup"
    assert "fixture exploded" in by_id["test_suite.py::test_setup_error"].longrepr
    (session,) = [e.event for e in journal.read_after(0, kinds=["test_session_complete"])]
    assert isinstance(session, TestSessionComplete)
    assert (session.passed, session.failed, session.skipped, session.exit_status) == (1, 2, 1, 1)


def test_option_enables_and_unreachable_store_does_not_break_the_run(
    tmp_path: Path, store: Store
) -> None:
    proc = _pytest(tmp_path, store, "--kgents-events", enable=None)
    assert "events journaled" in proc.stdout
    bad = Store(url="postgresql://nobody@127.0.0.1:1/none")
    proc = _pytest(tmp_path, bad, enable="1")
    assert proc.returncode == 1  # the tests' own outcome, not a plugin crash
    assert "kgents-events: not recorded: cannot reach the database" in proc.stdout
