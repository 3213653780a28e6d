"""The browser tests' Chromium lookup: found on PATH, a failure in CI, a skip elsewhere."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests import browser_helpers
from tests.browser_helpers import chromium_executable


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(browser_helpers, "DEBIAN_PATH", tmp_path / "absent")


def test_chromium_on_path_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "chromium-browser"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(browser_helpers, "DEBIAN_PATH", tmp_path / "absent")
    assert chromium_executable() == str(fake)


@pytest.mark.usefixtures("no_chromium")
def test_missing_chromium_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no chromium found.*required in CI"):
        chromium_executable()


@pytest.mark.usefixtures("no_chromium")
def test_missing_chromium_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        chromium_executable()
