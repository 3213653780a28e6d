"""The demo world on the terrarium page, in real Chromium, against `kg gateway --dev`:
edit a fixture file on disk and every open page follows; break it and the page shows the
problem with its location over the last good scene; fix it; delete it and the page says
it shows the generator's default scene."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from gateway_testing import free_port
from world_browser import FLAGS, close, decode_png, dev_gateway

from kgents_assets.hotdata.paths import PROJECT_FIXTURES_DIR
from tests.browser_helpers import chromium_executable

pytestmark = pytest.mark.slow
CHROMIUM = chromium_executable()  # fails in CI without one, skips elsewhere
# The tiles' fills (gateway/static/style.css): what the screenshot must show.
ACTIVE_FILL = (0x1F, 0x3D, 0x2A)
VOID_FILL = (0x0B, 0x0E, 0x12)


def tile_colour(page: object, agent: str) -> tuple[int, int, int]:
    """Mean colour of the lower right of ``agent``'s tile in a screenshot of the grid
    (inside the border, away from the name, label and activity bar)."""
    grid = page.locator("#world-grid")  # type: ignore[attr-defined]
    tile = page.locator(f'.w-agent[data-agent="{agent}"]')  # type: ignore[attr-defined]
    g, t = grid.bounding_box(), tile.bounding_box()
    image = decode_png(grid.screenshot())
    scale = image.width / g["width"]
    x1 = int((t["x"] - g["x"] + t["width"] - 5) * scale)
    y1 = int((t["y"] - g["y"] + t["height"] - 5) * scale)
    return image.mean(x1 - int(12 * scale), y1 - int(8 * scale), x1, y1)


def test_dev_mode_page_follows_fixture_edits_errors_fixes_and_deletion(
    database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    fixtures = tmp_path / "fixtures"
    shutil.copytree(PROJECT_FIXTURES_DIR, fixtures)
    path = fixtures / "flux_states" / "demo.json"
    original = path.read_text()
    data = json.loads(original)
    assert data["agents"]["e-gent"]["phase"] == "ACTIVE"
    assert (data["agents"]["e-gent"]["grid_x"], data["agents"]["e-gent"]["grid_y"]) == (6, 2)
    profile = Path(tempfile.mkdtemp(prefix="kg-chromium-"))
    with (
        dev_gateway(fixtures, database_url, tmp_path, free_port()) as gateway,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1100},
        )
        try:
            page, other = browser.new_page(), browser.new_page()
            for p in (page, other):
                p.goto(f"{gateway.url}/?world=demo")
            tile = page.locator('.w-agent[data-agent="e-gent"]')
            expect(tile).to_have_attribute("data-phase", "ACTIVE", timeout=10_000)
            expect(tile.locator(".w-phase")).to_have_text("ACTIVE")
            expect(page.locator("#world-meta")).to_contain_text("hot reload on")
            expect(page.locator("#stream-world li").first).to_contain_text(
                "demo world loaded: 8 fixture sets", timeout=10_000
            )
            before_box = tile.bounding_box()
            assert close(tile_colour(page, "e-gent"), ACTIVE_FILL)
            page.screenshot(path=str(tmp_path / "1-before.png"))

            # 1. Edit: E-gent goes VOID and moves to the empty cell (2, 3). Both pages follow.
            data["agents"]["e-gent"].update(phase="VOID", grid_x=2, grid_y=3)
            path.write_text(json.dumps(data, indent=2))
            moved = '.w-agent[data-agent="e-gent"][data-phase="VOID"][data-x="2"][data-y="3"]'
            for p in (page, other):
                expect(p.locator(moved)).to_have_count(1, timeout=5_000)
            expect(tile.locator(".w-phase")).to_have_text("VOID")
            after_box = tile.bounding_box()
            assert after_box["x"] < before_box["x"] and after_box["y"] > before_box["y"]
            assert close(tile_colour(page, "e-gent"), VOID_FILL)
            page.screenshot(path=str(tmp_path / "2-edited.png"))
            reloaded = page.locator("#stream-world li", has_text="flux_states/demo reloaded")
            expect(reloaded).to_have_count(1)

            # 2. Break it: a field out of range. The last good scene stays, the error shows.
            data["agents"]["e-gent"]["activity"] = 3.5
            path.write_text(json.dumps(data, indent=2))
            problem = page.locator('#world-problems li[data-fixture="flux_states/demo"]')
            expect(problem).to_contain_text("keeping the last good scene", timeout=5_000)
            expect(problem.locator("code.location")).to_have_text("agents.e-gent.activity")
            expect(problem).to_contain_text("Input should be less than or equal to 1 (got 3.5)")
            expect(other.locator("#world-problems")).to_be_visible()
            expect(page.locator(moved)).to_have_count(1)  # still the last good scene
            page.screenshot(path=str(tmp_path / "3-broken.png"))
            # The stream says it in words; the raw JSON is one click away.
            row = page.locator("#stream-world li", has_text="is invalid at agents.e-gent.activity")
            expect(row).to_have_count(1)
            expect(row.locator("pre.raw")).to_be_hidden()
            row.locator("button.raw-toggle").click()
            expect(row.locator("pre.raw")).to_contain_text('"type": "fixture_invalid"')

            # Bad JSON: the location is the line and column.
            path.write_text('{\n  "agents": {,\n')
            expect(problem.locator("li.issue")).to_contain_text("line 2 column 14", timeout=5_000)

            # 3. Fix it: the error clears, the file's scene is back.
            path.write_text(original)
            expect(page.locator("#world-problems")).to_be_hidden(timeout=5_000)
            expect(tile).to_have_attribute("data-phase", "ACTIVE")
            expect(tile).to_have_attribute("data-x", "6")
            assert close(tile_colour(page, "e-gent"), ACTIVE_FILL)

            # 4. Delete it: the generator's default scene, said on screen.
            path.unlink()
            notice = page.locator("#world-notices li")
            expect(notice).to_have_text(
                "flux_states/demo was deleted: showing the generator's default scene "
                "(flux_states generator, seed 1)",
                timeout=5_000,
            )
            expect(page.locator("#world-meta")).to_contain_text("flux_states/demo (generator)")
            page.screenshot(path=str(tmp_path / "4-deleted.png"))

            # The selector switches the scene and the URL.
            page.select_option("#world-set", "crowded")
            expect(page.locator("#world-section")).to_have_attribute("data-set", "crowded")
            expect(page.locator(".w-agent")).to_have_count(24)  # p-gent: featured
            assert "world=crowded" in page.url
            expect(page.locator("#world-notices")).to_be_hidden()
        finally:
            browser.close()
            shutil.rmtree(profile, ignore_errors=True)
