"""The widget page in headless Chromium: a live event arrives, a semaphore is approved."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
from gateway_testing import TOKEN, Gateway

from tests.browser_helpers import chromium_executable

pytestmark = pytest.mark.slow
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_page_shows_live_events_and_approves_a_semaphore(gateway: Gateway) -> None:
    from playwright.sync_api import expect, sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="kg-chromium-"))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(profile), executable_path=chromium_executable(), args=FLAGS, headless=True
            )
            try:
                page = browser.new_page()
                page.goto(f"{gateway.url}/#token={TOKEN}")
                expect(page.locator("#agent-streamer")).to_be_visible(timeout=10_000)
                expect(page.locator("#status")).to_have_text("live", timeout=10_000)

                # A real event, emitted by the agent after the page connected.
                gateway.emit("streamer", 1, "hello_browser")
                expect(
                    page.locator('#stream-streamer li[data-type="hello_browser"]')
                ).to_have_count(1, timeout=2_000)

                # The daemon asks a human; the page lists the semaphore; we click approve.
                daemon = gateway.agent("daemon")
                perturbation = gateway.run(daemon.perturb({"action": "prune branches", "trust": 2}))
                token = gateway.run(_ejected(perturbation))
                item = page.locator(f"#{token}")
                expect(item).to_contain_text("prune branches", timeout=5_000)
                item.locator('button[data-action="approve"]').click()
                expect(page.locator(f"#{token}")).to_have_count(0, timeout=5_000)
                expect(
                    page.locator('#stream-daemon li[data-type="semaphore_resolved"]')
                ).to_have_count(1, timeout=5_000)
                result = gateway.run(_result(perturbation))
                assert result == {"action": "prune branches", "approved": True, "by": "human"}
                with httpx.Client(base_url=gateway.url) as http:
                    assert http.get("/api/purgatory/daemon/pending").json() == []
            finally:
                browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


async def _ejected(perturbation: object) -> str:
    from kgents_assets.flux import Perturbation

    assert isinstance(perturbation, Perturbation)
    token = await asyncio.wait_for(perturbation.ejected, 5)
    return token.id


async def _result(perturbation: object) -> object:
    from kgents_assets.flux import Perturbation

    assert isinstance(perturbation, Perturbation)
    return await asyncio.wait_for(perturbation.result, 5)
