"""The recorder process ``kg hub --once`` starts first thing: it takes the repository's
"record pending" lock before the command can end, records the events it is handed in the
real instance (on the repository's partition) after the command let it go, then the
clean-run record; one that is never handed anything is killed at once, and one that dies
releases the lock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kgents_assets.cli.hub_record import ChildRecorder, log_path, pid_file
from kgents_assets.hub.clean_run import (
    RecordStillPending,
    read_clean_run,
    read_record_failure,
    wait_for_pending_record,
)
from kgents_assets.instance import get_instance
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from sensors.asset_events import AssetEventSpec
from tests.cli.recorders import dagster_writes_blocked, wait_for_recorders

CLEAN = {"refresh_id": "r1", "configuration": {"schema": [1], "embedder": "hashing"}}


@pytest.fixture
def instance_env(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("KGENTS_DATABASE_URL", store.url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    add_repository(store, "shop", str(tmp_path))
    get_instance(home).dispose()  # its tables exist before a test blocks one of them
    yield home
    wait_for_recorders()  # before the store's database is dropped


def _events() -> list[AssetEventSpec]:
    return [
        AssetEventSpec("code_nodes", "materialization", "shop", {"refresh_id": "r1"}),
        AssetEventSpec("node_state", "observation", "shop", {"refresh_id": "r1"}),
    ]


def _pending(store: Store) -> bool:
    with store.connect() as conn:
        try:
            wait_for_pending_record(conn, "shop", timeout_s=0.05)
        except RecordStillPending:
            return True
    return False


def test_a_recorder_with_nothing_to_record_is_killed_at_once() -> None:
    recorder = ChildRecorder()
    proc = recorder._proc
    assert proc is not None and proc.poll() is None  # importing Dagster meanwhile
    recorder.close()
    assert proc.returncode is not None  # killed and reaped, not left to finish
    assert not pid_file(proc.pid).exists()
    assert recorder.flush() is None  # nothing pending: nothing said


def test_the_record_lands_after_the_recorder_is_let_go(store: Store, instance_env: Path) -> None:
    from dagster import AssetKey, AssetRecordsFilter

    recorder = ChildRecorder()  # before the repository is known, as kg starts it
    recorder.name("shop", store.url)
    recorder.add(_events())
    with dagster_writes_blocked(store.url):
        assert recorder.flush() is None  # handed over once the child holds the lock
        assert (recorder.recorded, recorder.pending, recorder.handed) == (2, [], True)
        assert recorder.finish(CLEAN) is None
        recorder.close()  # what the command does last: a recorder let go goes on
        # the command could end here: the record is pending, readers wait for it
        assert _pending(store)
        with store.connect() as conn:
            assert read_clean_run(conn, "shop") is None
    with store.connect() as conn:
        wait_for_pending_record(conn, "shop")
        clean = read_clean_run(conn, "shop")
    assert clean is not None and clean.run_id == "r1"
    assert clean.configuration == CLEAN["configuration"]
    instance = get_instance(instance_env)
    try:
        assert instance.has_dynamic_partition("repositories", "shop")
        (record,) = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("code_nodes"), asset_partitions=["shop"]),
            limit=5,
        ).records
        assert record.asset_materialization is not None
        assert record.asset_materialization.metadata["refresh_id"].value == "r1"
    finally:
        instance.dispose()
    # and its log says so (written before the lock goes)
    said = log_path().read_text().splitlines()[-1]
    assert "shop: 2 asset event(s) of refresh r1 recorded in " in said
    assert said.endswith("; clean-run record written")


def test_a_killed_recorder_releases_the_lock_and_leaves_no_clean_record(
    store: Store, instance_env: Path
) -> None:
    recorder = ChildRecorder("shop", store.url)
    recorder.add(_events())
    with dagster_writes_blocked(store.url):
        assert recorder.flush() is None
        assert _pending(store)
        proc = recorder._proc
        assert proc is not None
        proc.kill()  # mid-record, as an OOM kill or a reboot would
        proc.wait()
        with store.connect() as conn:
            wait_for_pending_record(conn, "shop", timeout_s=10)  # released with its session
            assert read_clean_run(conn, "shop") is None
            assert read_record_failure(conn, "shop") is None  # it could say nothing
    assert recorder.finish(CLEAN) is not None  # nobody left to hand it to
    pid_file(proc.pid).unlink()


def test_a_recorder_told_something_failed_records_the_events_but_no_clean_record(
    store: Store, instance_env: Path
) -> None:
    recorder = ChildRecorder("shop", store.url)
    recorder.add(_events())
    assert recorder.flush() is None
    assert recorder.finish(None) is None
    with store.connect() as conn:
        wait_for_pending_record(conn, "shop")
        assert read_clean_run(conn, "shop") is None
        assert read_record_failure(conn, "shop") is None  # the record itself went well


def test_events_without_a_repository_are_a_programming_error() -> None:
    recorder = ChildRecorder()
    try:
        recorder.add([AssetEventSpec("code_nodes", "materialization", "shop", {})])
        with pytest.raises(RuntimeError, match="never told the repository"):
            recorder.flush()
    finally:
        recorder.close()


def test_the_recorder_log_is_moved_aside_when_it_outgrows_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A home nobody cleans: the log keeps one earlier generation, never grows without end."""
    from kgents_assets.cli import hub_record

    monkeypatch.setattr(hub_record, "LOG_MAX_BYTES", 100)
    hub_record.logs_dir().mkdir(parents=True, exist_ok=True)
    log = hub_record.log_path()
    log.write_bytes(b"old line\n" * 20)  # 180 bytes: over the limit

    with hub_record.open_log() as handle:
        handle.write(b"new line\n")

    assert log.read_bytes() == b"new line\n"
    assert log.with_name("hub-record.log.1").read_bytes() == b"old line\n" * 20
    with hub_record.open_log() as handle:  # under the limit: appended to
        handle.write(b"next line\n")
    assert log.read_bytes() == b"new line\nnext line\n"
