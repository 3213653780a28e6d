"""Demo 3 at trust 2 through the real gateway: the hub proposes a test, nothing is written
into the repository until a person approves the semaphore (over REST, or with the page's
approve button in a real Chromium); approving writes the test into tests/ and runs it at
once (the daemon agent carries the decision out); a rejected one is never written."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from gateway_testing import TOKEN, Gateway, serve_gateway

from gateway.settings import GatewaySettings
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.test_creation import TestRun, candidates, create_test, settle
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.browser_helpers import chromium_executable

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GEOMETRY = "def area(w, h):\n    return w * h\n\n\ndef volume(w, h, d):\n    return w * h * d\n"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def make_calc(store: Store, root: Path) -> None:
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "geometry.py").write_text(GEOMETRY)
    add_repository(store, "calc", str(root))
    refresh_repository(store, root, repo="calc")


def settled(store: Store) -> dict[str, str]:
    """test path -> outcome, of the proposals carried out so far."""
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT test_path, outcome FROM hub_test_runs WHERE token_id IS NOT NULL "
            "AND outcome <> 'awaiting_human'"
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def wait_for(condition: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.mark.slow
def test_trust_2_waits_for_a_person(
    gateway: Gateway, store: Store, settings: GatewaySettings
) -> None:
    root = settings.repo_root / "calc"
    make_calc(store, root)
    with store.connect() as conn:
        area, volume = candidates(conn, "calc")
    proposals = [create_test(store, "calc", root, c, 2) for c in (area, volume)]
    assert [p.outcome for p in proposals] == ["awaiting_human", "awaiting_human"]
    assert not (root / "tests").exists()  # nothing in the repository yet
    assert (root / ".agentfs/tests/test_calc_geometry_area.py").is_file()  # to read
    assert settle(store, "calc", root) == []  # still waiting

    with httpx.Client(base_url=gateway.url) as http:
        pending = http.get("/api/purgatory/daemon/pending").json()
        assert {t["id"] for t in pending} == {p.token_id for p in proposals}
        assert any("calc.geometry.area" in t["reason"] for t in pending)
        approve = http.post(
            f"/api/purgatory/daemon/resolve/{proposals[0].token_id}",
            json={"input": "approve"}, headers=AUTH,
        )  # fmt: skip
        assert approve.status_code == 200, approve.text
        reject = http.post(
            f"/api/purgatory/daemon/resolve/{proposals[1].token_id}",
            json={"input": "reject"}, headers=AUTH,
        )  # fmt: skip
        assert reject.status_code == 200

    # The daemon agent carries each decision out as it re-enters: no other step.
    wait_for(lambda: len(settled(store)) == 2)
    assert settled(store) == {
        "tests/test_calc_geometry_area.py": "passed",
        "tests/test_calc_geometry_volume.py": "rejected",
    }
    assert (root / "tests/test_calc_geometry_area.py").is_file()
    assert not (root / "tests/test_calc_geometry_volume.py").exists()
    assert settle(store, "calc", root) == []  # each decision carried out once


@pytest.mark.slow
def test_the_page_approves_a_proposed_test_which_is_written_and_run(
    store: Store, settings: GatewaySettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("KGENTS_DATABASE_URL", store.url)  # the hub stream's Dagster instance
    home = tmp_path / "dagster_home"
    home.mkdir()
    root = settings.repo_root / "calc"
    make_calc(store, root)
    with store.connect() as conn:
        area = next(c for c in candidates(conn, "calc") if c.name == "area")
    config = settings.model_copy(update={"dagster_agents": True, "dagster_home": home})
    profile = Path(tempfile.mkdtemp(prefix="kg-chromium-"))
    try:
        with serve_gateway(config, store) as gateway, sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(profile), executable_path=chromium_executable(), args=FLAGS, headless=True
            )
            try:
                page = browser.new_page()
                page.goto(f"{gateway.url}/#token={TOKEN}")
                expect(page.locator("#status")).to_have_text("live", timeout=30_000)
                expect(page.locator('#stream-hub li[data-type="watching"]')).to_have_count(
                    1, timeout=60_000
                )

                # Proposed while the page is open: the hub stream says so, the list follows.
                proposal: TestRun = create_test(store, "calc", root, area, 2)
                item = page.locator(f"#{proposal.token_id}")
                expect(item).to_contain_text("calc.geometry.area", timeout=10_000)
                expect(item.locator("details.proposed-test summary")).to_have_text(
                    "calc: tests/test_calc_geometry_area.py"
                )
                item.locator("details.proposed-test summary").click()
                expect(item.locator("details.proposed-test pre")).to_contain_text(
                    "from calc.geometry import area"
                )
                assert not (root / "tests").exists()

                item.locator('button[data-action="approve"]').click()
                expect(page.locator(f"#{proposal.token_id}")).to_have_count(0, timeout=10_000)
                expect(
                    page.locator('#stream-daemon li[data-type="perturbation_result"]')
                ).to_contain_text(
                    "add test tests/test_calc_geometry_area.py (passed): approved (human)",
                    timeout=60_000,
                )
                expect(page.locator('#stream-hub li[data-type="test_created"]')).to_contain_text(
                    "tests/test_calc_geometry_area.py::test_area passed", timeout=10_000
                )
            finally:
                browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert (
        "from calc.geometry import area" in (root / "tests/test_calc_geometry_area.py").read_text()
    )
    assert settled(store) == {"tests/test_calc_geometry_area.py": "passed"}
    markdown = (root / ".agentfs/nodes/calc/geometry.py/area.md").read_text()
    assert "- test: `tests/test_calc_geometry_area.py::test_area`" in markdown
    assert "- last result: **passed** (exit 0" in markdown
