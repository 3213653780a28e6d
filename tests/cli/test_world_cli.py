"""`kg world`: Textual's own pilot drives the terminal view through a real edit of a
fixture file on disk: change, break, fix, delete."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgents_assets.cli.main import app as kg
from kgents_assets.cli.world import WorldApp
from kgents_assets.hotdata.catalog import default_registry
from kgents_assets.hotdata.paths import PROJECT_FIXTURES_DIR
from kgents_assets.hotdata.world_view import WorldFixtures

TIMEOUT_S = 10.0


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    copy = tmp_path / "fixtures"
    shutil.copytree(PROJECT_FIXTURES_DIR, copy)
    return copy


def screen_text(app: WorldApp, widget: str) -> str:
    from textual.widgets import Static

    return str(app.query_one(widget, Static).content)


async def until(pilot: object, condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition`` holds (a condition, not a fixed sleep)."""
    import time

    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)  # type: ignore[attr-defined]


def test_the_terminal_view_follows_edits_of_a_fixture_file(fixtures: Path) -> None:
    asyncio.run(_drive_through_edits(fixtures))


async def _drive_through_edits(fixtures: Path) -> None:
    path = fixtures / "flux_states" / "demo.json"
    original = path.read_text()
    data = json.loads(original)
    assert data["agents"]["e-gent"]["phase"] != "VOID"
    app = WorldApp(WorldFixtures(default_registry(fixtures)), "demo")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.watching.is_set(), "the watcher")
        grid = screen_text(app, "#grid")
        assert "E-gent" in grid and "hot reload on" in screen_text(app, "#meta")
        e_line = next(i for i, line in enumerate(grid.splitlines()) if "E-gent" in line)

        # 1. An edit: E-gent goes VOID and moves to the top row.
        data["agents"]["e-gent"].update(phase="VOID", grid_y=0, grid_x=0)
        path.write_text(json.dumps(data))

        def e_gent_void_on_top() -> bool:
            lines = screen_text(app, "#grid").splitlines()
            return lines[0].startswith(" E-gent") and lines[1].startswith("·VOID")

        await until(pilot, e_gent_void_on_top, "E-gent VOID at (0, 0)")
        # on the screen itself, not only in the widget: the first grid row starts with it
        assert "E-gent" in app.export_screenshot()
        assert e_line != 0
        assert app.scene is not None and app.scene.revision > 0

        # 2. A broken edit: a field out of range keeps the scene, shows where.
        data["agents"]["e-gent"]["activity"] = 3.5
        path.write_text(json.dumps(data))
        await until(
            pilot, lambda: "agents.e-gent.activity" in screen_text(app, "#problems"), "the error"
        )
        assert "keeping the last good scene" in screen_text(app, "#problems")
        assert e_gent_void_on_top()  # the last good scene is still drawn

        # 3. Fixing it clears the problem.
        path.write_text(original)
        await until(pilot, lambda: not screen_text(app, "#problems").strip(), "the fix")
        assert not e_gent_void_on_top()

        # 4. Deleting it falls back to the generator's default, said on screen.
        path.unlink()
        await until(
            pilot,
            lambda: "was deleted: showing the generator's default" in screen_text(app, "#problems"),
            "the fallback notice",
        )
        assert "flux_states/demo (generator)" in screen_text(app, "#meta")
        svg = app.export_screenshot()
        assert "deleted" in svg

        # n switches to the next set.
        await pilot.press("n")
        assert app.set_name == "busy" and "set busy" in screen_text(app, "#meta")


def test_kg_world_rejects_an_unknown_set_and_lists_the_known(fixtures: Path) -> None:
    result = CliRunner().invoke(kg, ["world", "nope", "--fixtures", str(fixtures)])
    assert result.exit_code == 2
    assert "unknown fixture set 'nope'" in result.output
    assert "crowded" in result.output
