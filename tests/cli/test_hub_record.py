"""The recorder process ``kg hub --once`` starts first thing: told the repository only once
the command knows it, it records the events it is handed in the real instance (on the
repository's partition); one that is never handed anything (nothing changed, a Dagster
run) is killed at once and leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kgents_assets.cli.hub_record import ChildRecorder
from kgents_assets.instance import get_instance
from sensors.asset_events import AssetEventSpec


@pytest.fixture
def instance_env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("KGENTS_DATABASE_URL", database_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield home


def test_a_recorder_with_nothing_to_record_is_killed_at_once() -> None:
    recorder = ChildRecorder()
    proc = recorder._proc
    assert proc is not None and proc.poll() is None  # importing Dagster meanwhile
    recorder.close()
    assert proc.returncode is not None  # killed and reaped, not left to finish
    assert recorder.flush() is None  # nothing pending: nothing said


def test_named_late_it_records_on_the_repositorys_partition(instance_env: Path) -> None:
    from dagster import AssetKey, AssetRecordsFilter

    recorder = ChildRecorder()  # before the repository is known, as kg starts it
    recorder.name("shop")
    recorder.add(
        [
            AssetEventSpec("code_nodes", "materialization", "shop", {"refresh_id": "r1"}),
            AssetEventSpec("node_state", "observation", "shop", {"refresh_id": "r1"}),
        ]
    )
    assert recorder.flush() is None
    assert (recorder.recorded, recorder.pending) == (2, [])
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


def test_events_without_a_repository_are_a_programming_error() -> None:
    recorder = ChildRecorder()
    try:
        recorder.add([AssetEventSpec("code_nodes", "materialization", "shop", {})])
        with pytest.raises(RuntimeError, match="never told the repository"):
            recorder.flush()
    finally:
        recorder.close()
