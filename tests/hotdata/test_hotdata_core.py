"""HotData[T]: load, defaults, TTL by mtime, refresh, and every bad input of the issue."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kgents_assets.hotdata.errors import (
    FixtureMissingError,
    FixturesNotWritableError,
    FixtureValidationError,
    GeneratorError,
)
from kgents_assets.hotdata.hotdata import HotData
from kgents_assets.hotdata.models import AgentSnapshot, Phase

GOOD = AgentSnapshot(id="k-gent", name="K-gent", phase=Phase.ACTIVE, activity=0.5)
OTHER = AgentSnapshot(id="l-gent", name="L-gent", phase=Phase.DORMANT)


def agent_hotdata(root: Path, ttl: timedelta | None = timedelta(hours=1)) -> HotData[AgentSnapshot]:
    return HotData(
        root / "agent_snapshots" / "demo.json", AgentSnapshot, ttl, name="agent_snapshots/demo"
    )


def age_file(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def produce(value: Any) -> Any:
    return value


def test_load_round_trips_and_exists(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    assert not hd.exists()
    hd.save(GOOD)
    assert hd.exists()
    assert hd.load() == GOOD
    assert hd.path.read_text().endswith("}\n")


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(FixtureMissingError) as info:
        agent_hotdata(tmp_path).load()
    assert "kg fixture refresh agent_snapshots/demo" in str(info.value)


def test_ttl_is_measured_from_mtime(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path, ttl=timedelta(minutes=10))
    assert not hd.is_fresh() and not hd.is_stale()  # missing is neither fresh nor stale
    hd.save(GOOD)
    assert hd.is_fresh()
    age_file(hd.path, 11 * 60)
    assert hd.is_stale() and not hd.is_fresh()
    assert 11 * 60 - 5 < (hd.age_seconds() or 0) < 11 * 60 + 5


def test_ttl_none_is_never_stale(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path, ttl=None)
    hd.save(GOOD)
    age_file(hd.path, 10 * 365 * 86400)
    assert hd.is_fresh() and not hd.is_stale()


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    hd.path.parent.mkdir(parents=True)
    hd.path.write_text('{\n  "id": "k",\n  "name": "K"\n  "phase": "ACTIVE"\n}\n')
    with pytest.raises(FixtureValidationError) as info:
        hd.load()
    message = str(info.value)
    assert str(hd.path) in message
    assert "Invalid JSON" in message and "line 4" in message


def test_schema_failure_names_the_field(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    hd.path.parent.mkdir(parents=True)
    hd.path.write_text('{"id": "k", "name": "K", "phase": "ACTIVE", "grid_x": -1}')
    with pytest.raises(FixtureValidationError) as info:
        hd.load()
    assert [str(i) for i in info.value.issues] == [
        "grid_x: Input should be greater than or equal to 0 (got -1)"
    ]


@pytest.mark.parametrize(
    "content",
    [None, "", "{not json", '{"id": "k"}', "[1, 2]", "\x00\xff"],
    ids=["missing", "empty", "malformed", "schema", "wrong-type", "binary"],
)
def test_load_or_default_never_raises(
    tmp_path: Path, content: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    hd = agent_hotdata(tmp_path)
    if content is not None:
        hd.path.parent.mkdir(parents=True)
        hd.path.write_text(content)
    with caplog.at_level(logging.WARNING):
        assert hd.load_or_default(OTHER) is OTHER
    if content is not None:  # a broken file is worth a warning; a missing one is normal
        assert "using the default for fixture agent_snapshots/demo" in caplog.text


def test_load_or_default_survives_an_unreadable_path(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    hd.path.mkdir(parents=True)  # a directory where the file should be
    assert hd.load_or_default(OTHER) is OTHER


def test_refresh_keeps_a_fresh_fixture_unless_forced(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    hd.save(GOOD)
    calls: list[int] = []

    async def gen() -> AgentSnapshot:
        calls.append(1)
        return OTHER

    assert asyncio.run(hd.refresh(gen)) == GOOD
    assert calls == []
    assert asyncio.run(hd.refresh(gen, force=True)) == OTHER
    assert hd.load() == OTHER


def test_refresh_regenerates_stale_and_missing(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    outcome = asyncio.run(hd.refresh_outcome(lambda: produce(GOOD)))
    assert outcome.written and outcome.size == hd.path.stat().st_size
    age_file(hd.path, 2 * 3600)
    assert asyncio.run(hd.refresh(lambda: produce(OTHER))) == OTHER


def test_refresh_accepts_plain_dicts_but_stores_validated_data(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    value = asyncio.run(hd.refresh(lambda: produce({"id": "x", "name": "X", "phase": "void"})))
    assert value.phase is Phase.VOID
    assert '"phase": "VOID"' in hd.path.read_text()


def test_a_generator_that_raises_keeps_the_previous_file(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    hd.save(GOOD)
    before = hd.path.read_bytes()

    async def broken() -> AgentSnapshot:
        raise ConnectionError("model server went away")

    with pytest.raises(GeneratorError) as info:
        asyncio.run(hd.refresh(broken, force=True))
    assert "ConnectionError: model server went away" in str(info.value)
    assert "previous file is unchanged" in str(info.value)
    assert hd.path.read_bytes() == before
    assert sorted(p.name for p in hd.path.parent.iterdir()) == [".locks", "demo.json"]


def test_a_generator_returning_invalid_data_writes_nothing(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    hd.save(GOOD)
    before = hd.path.read_bytes()
    invalid = {"id": "x", "name": "X", "phase": "ACTIVE", "activity": 7}
    with pytest.raises(FixtureValidationError) as info:
        asyncio.run(hd.refresh(lambda: produce(invalid), force=True))
    assert "generator output" in str(info.value)
    assert info.value.issues[0].location == "activity"
    assert hd.path.read_bytes() == before


def test_a_mutated_model_is_revalidated_before_writing(tmp_path: Path) -> None:
    hd = agent_hotdata(tmp_path)
    sneaky = AgentSnapshot.model_construct(
        id="x",
        name="X",
        phase=Phase.ACTIVE,
        activity=3.0,
        children=[],
        summary="",
        grid_x=0,
        grid_y=0,
        connections={},
    )
    with pytest.raises(FixtureValidationError):
        hd.save(sneaky)
    assert not hd.exists()


READ_ONLY_SCRIPT = """
import asyncio, os, sys
from pathlib import Path
from kgents_assets.hotdata.hotdata import HotData
from kgents_assets.hotdata.models import AgentSnapshot
from kgents_assets.hotdata.errors import FixturesNotWritableError
hd = HotData(Path(sys.argv[1]), AgentSnapshot, None, name="agent_snapshots/demo",
             lock_file=Path(sys.argv[2]))
new = {"id": "new", "name": "New", "phase": "ACTIVE"}
hd.render(new)  # import everything lazily imported while we may still read the venv
from filelock import AsyncFileLock  # noqa: F401  (the lock is imported when first taken)
if os.geteuid() == 0:  # root ignores permissions: become nobody
    os.setgid(65534); os.setuid(65534)
async def gen():
    return new
try:
    asyncio.run(hd.refresh(gen, force=True))
except FixturesNotWritableError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory another user can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="kg-hotdata-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):
            if sub.is_dir():
                sub.chmod(0o755)
        shutil.rmtree(path)


def test_a_read_only_fixtures_directory_is_a_clear_error(world_readable_dir: Path) -> None:
    root = world_readable_dir / "fixtures"
    hd = agent_hotdata(root)
    hd.save(GOOD)
    before = hd.path.read_bytes()
    locks = world_readable_dir / "locks"
    locks.mkdir()
    locks.chmod(0o777)  # the lock is not what we are testing: only the data directory
    root.chmod(0o755)
    hd.path.parent.chmod(0o555)
    proc = subprocess.run(
        [sys.executable, "-c", READ_ONLY_SCRIPT, str(hd.path), str(locks / "demo.lock")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 3, proc.stderr
    assert f"cannot write {hd.path}: Permission denied" in proc.stdout
    assert "previous file, if any, is unchanged" in proc.stdout
    assert hd.path.read_bytes() == before
    assert [p.name for p in hd.path.parent.iterdir()] == ["demo.json"]  # no temp left


def test_not_writable_error_type_is_raised_in_process(tmp_path: Path) -> None:
    # A file where the kind directory should be: mkdir fails even for root.
    (tmp_path / "agent_snapshots").write_text("not a directory")
    with pytest.raises(FixturesNotWritableError) as info:
        agent_hotdata(tmp_path).save(GOOD)
    assert "cannot write" in str(info.value)
