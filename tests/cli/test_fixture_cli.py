"""`kg fixture ...` as a user types it (Typer's CliRunner on the real `kg` app)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgents_assets.cli.main import app

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory as cwd, with no DAGSTER_HOME: the CLI uses $KGENTS_HOME/dagster."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("KGENTS_HOTDATA_SPECS", raising=False)
    monkeypatch.setenv("KGENTS_FIXTURES_DIR", str(tmp_path / "fixtures"))
    monkeypatch.setenv("COLUMNS", "200")
    yield tmp_path


def kg(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["fixture", *args])
    return result.exit_code, result.output


def test_list_shows_every_fixture_missing_at_first(workdir: Path) -> None:
    code, out = kg("list")
    assert code == 0
    assert "flux_states/demo" in out and "MISSING" in out
    assert "0 fresh · 0 stale · 15 missing" in out
    code, out = kg("list", "--json")
    rows = json.loads(out)
    assert {r["state"] for r in rows} == {"MISSING"}
    assert rows[0]["path"] == str(workdir / "fixtures" / "agent_snapshots" / "demo.json")


def test_refresh_needs_a_name_or_all(workdir: Path) -> None:
    code, out = kg("refresh")
    assert code == 2 and "name a fixture" in out
    code, out = kg("refresh", "flux_states/demo", "--all")
    assert code == 2 and "not both" in out


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("flux_states/nope", "unknown fixture 'flux_states/nope'"),
        ("../../etc/passwd", "contains '..' or '.'; names stay inside the fixtures"),
        ("/etc/passwd", "is an absolute path"),
    ],
)
def test_refresh_of_a_bad_name_is_refused(workdir: Path, name: str, says: str) -> None:
    code, out = kg("refresh", name)
    assert code == 2 and says in out
    assert not (workdir / "fixtures").exists()


def test_dry_run_writes_nothing(workdir: Path) -> None:
    code, out = kg("refresh", "--all", "--dry-run")
    assert code == 0, out
    assert "would write fixtures/flux_states/demo.json" in out and "new file" in out
    assert "dry run: nothing was written" in out
    assert not (workdir / "fixtures").exists()
    assert not (workdir / ".agentfs").exists()  # no Dagster run either


@pytest.mark.slow
def test_refresh_goes_through_a_dagster_run(workdir: Path) -> None:
    code, out = kg("refresh", "garden_states/main", "flux_states/demo")
    assert code == 0, out
    assert "ok garden_states/main" in out and "ok flux_states/demo" in out
    run_id = out.split("dagster run ")[1].split()[0]

    from dagster import DagsterRunStatus

    from kgents_assets.instance import get_instance

    with get_instance() as instance:  # the shared one, under $KGENTS_HOME
        run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == DagsterRunStatus.SUCCESS
    assert run.tags["kgents/trigger"] == "kg fixture refresh"

    code, out = kg("list", "--stale", "--json")
    stale = {r["name"] for r in json.loads(out)}
    assert "garden_states/main" not in stale and len(stale) == 13

    # Fresh fixtures are kept unless forced; --dry-run --force shows they'd be identical.
    code, out = kg("refresh", "garden_states/main")
    assert code == 0 and "garden_states/main is fresh" in out and "nothing to refresh" in out
    code, out = kg("refresh", "garden_states/main", "--force", "--dry-run")
    assert code == 0 and "unchanged" in out


def test_validate_reports_locations_and_fails(workdir: Path) -> None:
    fixtures = workdir / "fixtures"
    (fixtures / "garden_states").mkdir(parents=True)
    (fixtures / "garden_states" / "main.json").write_text(
        '{"id": "g", "name": "G", "health": 2, "orchestration_state": "asleep"}'
    )
    (fixtures / "yield_turns").mkdir()
    (fixtures / "yield_turns" / "demo.json").write_text('[{"id": "t1",')
    code, out = kg("validate", "garden_states/main", "yield_turns/demo")
    assert code == 1
    assert "health: Input should be less than or equal to 1 (got 2)" in out
    assert (
        "orchestration_state: Input should be 'idle', 'converging', 'diverging' or "
        "'stable' (got 'asleep')" in out
    )
    assert "Invalid JSON: EOF while parsing" in out
    assert "0 valid, 2 invalid" in out
    code, out = kg("validate", "--json")
    results = {r["name"]: r for r in json.loads(out)}
    assert code == 1 and not results["flux_states/demo"]["valid"]
    assert "kg fixture refresh flux_states/demo" in results["flux_states/demo"]["issues"][0]


def test_validate_and_info_on_good_files(workdir: Path) -> None:
    assert kg("refresh", "--all", "--dry-run")[0] == 0
    import asyncio

    from kgents_assets.hotdata.catalog import default_registry

    asyncio.run(default_registry().refresh_all_stale())
    code, out = kg("validate")
    assert code == 0 and "15 valid, 0 invalid" in out
    code, out = kg("info", "flux_states/crowded", "--json")
    info = json.loads(out)
    assert info["state"] == "FRESH" and info["valid"] and info["records"] == 24
    assert info["asset_key"] == "hotdata/flux_states/crowded"
    assert info["schema"] == "kgents_assets.hotdata.models:FluxState"
    code, out = kg("info", "flux_states/crowded")
    assert code == 0 and "FRESH" in out and "records" in out


def test_list_marks_old_files_stale(workdir: Path) -> None:
    import asyncio

    from kgents_assets.hotdata.catalog import default_registry

    registry = default_registry()
    asyncio.run(registry.refresh("thought_streams/demo"))
    old = time.time() - 13 * 3600
    os.utime(registry.get("thought_streams/demo").path, (old, old))
    code, out = kg("list", "--stale", "--json")
    assert code == 0
    row = next(r for r in json.loads(out) if r["name"] == "thought_streams/demo")
    assert row["state"] == "STALE" and row["age_seconds"] > 12 * 3600
    _code, out = kg("list")
    assert "STALE" in out and "13h" in out


@pytest.mark.slow
def test_a_failed_refresh_says_why_and_keeps_the_old_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "broken_specs.py").write_text(
        "from kgents_assets.hotdata.spec import FixtureSpec\n"
        "SPECS = [FixtureSpec('test/broken', 'kgents_assets.hotdata.models:AgentSnapshot',"
        " generator='nope')]\n"
    )
    monkeypatch.syspath_prepend(str(workdir))
    monkeypatch.setenv("KGENTS_HOTDATA_SPECS", "broken_specs:SPECS")
    old = workdir / "fixtures" / "test" / "broken.json"
    old.parent.mkdir(parents=True)
    old.write_text('{"id": "k", "name": "K", "phase": "ACTIVE"}')
    code, out = kg("refresh", "test/broken", "agent_snapshots/demo", "--force")
    assert code == 1
    assert "test/broken: no generator named 'nope'; known: agent_snapshots" in out
    assert "failed test/broken" in out and "ok test/broken" not in out
    assert "ok agent_snapshots/demo" in out and "refresh failed" in out
    assert old.read_text() == '{"id": "k", "name": "K", "phase": "ACTIVE"}'


def test_list_stays_light(workdir: Path) -> None:
    """`kg fixture list` must not import Dagster or the models (its speed budget).

    Checked on the fixture sub-app: `kg` itself also imports every other group's module.
    """
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kgents_assets.cli.fixture import fixture_app as app\n"
        "heavy_before = {'dagster', 'kgents_assets.hotdata.models'} & set(sys.modules)\n"
        "try:\n"
        "    app(['list'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = {'dagster', 'kgents_assets.hotdata.models'} & set(sys.modules)\n"
        "print(sorted(heavy_before), sorted(loaded))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "[] []"


def test_instance_is_dagster_home_when_set(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from kgents_assets.cli._instance import get_instance

    home = workdir / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("KGENTS_DATABASE_URL", database_url)  # no embedded server left running
    instance = get_instance()
    try:
        assert Path(instance.root_directory) == home
    finally:
        instance.dispose()
    assert not (workdir / ".agentfs").exists()
