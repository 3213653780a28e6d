"""``kg hub context`` as a person and a script see it: a real store, a real model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kgents_assets.cli import hub_context
from kgents_assets.cli.main import app as kg_app
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from sensors.events import TestFailed
from sensors.journal import EventJournal
from tests.repo_helpers import Files

FILES: Files = {
    "calc/__init__.py": "",
    "calc/geometry.py": '''
        def area(w, h):
            """Area of a rectangle."""
            return scale(w) * h


        def scale(x):
            return x
        ''',
}
runner = CliRunner()


def hub_commands() -> typer.Typer:
    """The command functions on a bare app, used while ``kg hub`` does not list them yet
    (kgents_assets/cli/hub.py registers them)."""
    app = typer.Typer()
    app.command("context")(hub_context.context)
    app.command("failure")(hub_context.failure)
    app.command("impact")(hub_context.impact)
    app.command("noop", hidden=True)(lambda: None)  # keeps "context" a sub-command
    return app


def invoke(*args: str) -> tuple[int, str, str]:
    registered = "context" in runner.invoke(kg_app, ["hub", "--help"]).stdout
    app, prefix = (kg_app, ["hub"]) if registered else (hub_commands(), [])
    result = runner.invoke(app, [*prefix, *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def env(store: Store, repo: Callable[[Files], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    root = repo(FILES)
    refresh_repository(store, root, repo="calc")
    monkeypatch.setenv("KGENTS_DATABASE_URL", store.url)
    monkeypatch.setenv("COLUMNS", "200")
    return root


def test_context_table_and_json(env: Path) -> None:
    code, stdout, stderr = invoke("context", "calc.geometry.area", "--repo", "calc")
    assert code == 0, stdout + stderr
    assert "fresh: derived from the current source" in stdout
    assert "def area(w, h)" in stdout and "Area of a rectangle." in stdout
    assert "calc.geometry.scale" in stdout and "calc/geometry.py:6" in stdout
    assert stderr == ""

    code, stdout, _ = invoke("context", "calc/geometry.py:3", "--repo", "calc", "--json")
    blob = json.loads(stdout)
    assert code == 0 and blob["full_name"] == "calc.geometry.area"
    assert blob["freshness_status"] == "fresh" and blob["warning"] is None
    assert [c["full_name"] for c in blob["callees"]] == ["calc.geometry.scale"]


def test_stale_and_missing(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    geometry = env / "calc" / "geometry.py"
    geometry.write_text(geometry.read_text().replace("return x", "return 2 * x"))
    code, stdout, stderr = invoke("context", "scale", "--repo", "calc")
    assert code == 0 and "stale" in stdout
    assert "warning: Stale hub context for calc.geometry.scale" in " ".join(stderr.split())

    code, stdout, _ = invoke("context", "nowhere", "--json")
    assert code == 1 and json.loads(stdout)["freshness_status"] == "missing"

    monkeypatch.setenv("KGENTS_DATABASE_URL", "postgresql://kg:secret@127.0.0.1:9/none")
    code, stdout, stderr = invoke("context", "scale", "--repo", "calc")
    assert code == 2 and "the hub is down" in stdout and "secret" not in stdout + stderr


def test_impact_and_failure(env: Path, store: Store) -> None:
    code, stdout, stderr = invoke("impact", "calc.geometry.scale", "--repo", "calc")
    assert code == 0, stdout + stderr
    assert "calc/geometry.py:3" in stdout and "calc.geometry.area" in stdout
    assert (env / ".agentfs/impact/calc/geometry.py/scale.md").is_file()
    code, stdout, _ = invoke("impact", "calc.geometry.scale", "--json")
    assert code == 0 and json.loads(stdout)["callsites"][0]["confidence"] == 0.95
    code, _, stderr = invoke("impact", "nothing_here", "--repo", "calc")
    assert code == 1 and "no node named 'nothing_here'" in stderr

    code, _, stderr = invoke("failure")
    assert code == 1 and "no failing test in the event journal" in stderr
    EventJournal(store).append(
        TestFailed(
            nodeid="tests/test_geometry.py::test_area", session_id="s", source="pytest",
            message="assert 5 == 6", longrepr="calc/geometry.py:3: in area\n    return scale(w) * h",
        ),
        repo="calc",
    )  # fmt: skip
    code, stdout, _ = invoke("failure", "--json")
    bundle = json.loads(stdout)
    assert code == 0 and bundle["failing_node"] == "calc.geometry.area"
    assert bundle["artifact"] == ".agentfs/failures/tests/test_geometry.py/test_area.json"
    code, stdout, _ = invoke("failure", "tests/test_geometry.py::test_area")
    assert code == 0 and "FAILED tests/test_geometry.py::test_area" in stdout
