"""The Grafana dashboard queries only metrics that a live gateway exports: a renamed metric
breaks this test, not the dashboard in production."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helm.helm_cli import CHART
from tests.helm.test_run_launcher import free_port

DASHBOARD = CHART / "dashboards" / "kgents.json"
METRIC = re.compile(r"\b(kgents_[a-zA-Z0-9_]+)\b")
#: what a family of each type exposes as sample names, beside its own name
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def queries() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel["targets"]
    ]


def test_dashboard_parses_and_has_the_panels_operators_need() -> None:
    data = dashboard()
    titles = [panel["title"] for panel in data["panels"]]
    for wanted in (
        "Catalog search p99 by mode",
        "Catalog operations/s",
        "Catalog size by entity type",
        "Error rate",
        "Dagster run durations (p50, p95)",
        "Observers",
        "Dropped observers/s",
    ):
        assert wanted in titles
    ids = [panel["id"] for panel in data["panels"]]
    assert len(set(ids)) == len(ids)
    for title, expr in queries():
        assert METRIC.search(expr), f"{title}: {expr} queries no kgents metric"
        assert expr.count("(") == expr.count(")"), f"{title}: unbalanced {expr}"


@pytest.fixture
def live_gateway(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    kg = Path(sys.executable).parent / "kg"
    env = {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "KGENTS_GATEWAY_TOKEN": "t0ken",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    process = subprocess.Popen(
        [str(kg), "gateway", "--port", str(port), "--no-dagster", "--repo", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                pytest.fail(
                    f"kg gateway exited:\n{process.stdout.read() if process.stdout else ''}"
                )
            assert time.monotonic() < deadline, "kg gateway did not become ready"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.slow
def test_every_metric_the_dashboard_queries_is_exported_by_a_live_gateway(
    live_gateway: str,
) -> None:
    # One search, so the catalog's histograms and counters carry samples too.
    search = httpx.get(
        f"{live_gateway}/api/library/discover", params={"q": "agent", "mode": "keyword"}, timeout=30
    )
    assert search.status_code == 200, search.text
    text = httpx.get(f"{live_gateway}/metrics", timeout=10).text
    exported: set[str] = set()
    for family in text_string_to_metric_families(text):
        exported.add(family.name)
        exported.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        exported.update(sample.name for sample in family.samples)
    missing = {
        name: title
        for title, expr in queries()
        for name in METRIC.findall(expr)
        if name not in exported
    }
    assert not missing, f"queried by the dashboard, not exported by the gateway: {missing}"
