"""``kg mcp`` as an editor runs it: a real ``mcp`` client session over stdio against the
real ``kg`` script, calling every tool; with the hub down every tool answers ``missing``."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.impact import detect_and_summarize
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from sensors.events import TestFailed
from sensors.journal import EventJournal
from tests.executables import project_executable
from tests.repo_helpers import Files

FILES: Files = {
    "calc/__init__.py": "",
    "calc/geometry.py": '''
        def area(w, h):
            """Area of a rectangle in square metres."""
            return scale(w) * h


        def scale(x):
            return x / 0
        ''',
    "calc/report.py": """
        from calc.geometry import area


        def describe(w, h):
            return f"{area(w, h)} m2"
        """,
    "tests/test_geometry.py": """
        from calc.geometry import area


        def test_area():
            assert area(2, 3) == 6
        """,
}
LONGREPR = (
    "    def test_area():\n>       assert area(2, 3) == 6\n\ntests/test_geometry.py:5: \n"
    "_ _ _\ncalc/geometry.py:3: in area\n    return scale(w) * h\n_ _ _\n\n"
    ">   return x / 0\nE   ZeroDivisionError: division by zero\n\n"
    "calc/geometry.py:7: ZeroDivisionError"
)


async def call_all(env: dict[str, str]) -> tuple[set[str], dict[str, Any]]:
    params = StdioServerParameters(command=project_executable("kg"), args=["mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name for t in (await session.list_tools()).tools}
        calls = {
            "node_context": {"target": "calc.geometry.area", "repo": "calc"},
            "discover": {"query": "rectangle area in square metres", "mode": "hybrid"},
            "failure_context": {"test_id": "tests/test_geometry.py::test_area"},
            "impact_summary": {"node": "calc.geometry.area", "repo": "calc"},
        }
        answers: dict[str, Any] = {}
        for name, arguments in calls.items():
            result = await session.call_tool(name, arguments)
            assert not result.is_error, result.content
            answers[name] = result.structured_content or json.loads(result.content[0].text)  # type: ignore[union-attr]
        return tools, answers


def server_env(database_url: str, home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("KGENTS_")}
    return {**keep, DATABASE_URL_ENV: database_url, "KGENTS_HOME": str(home),
            "KGENTS_EMBEDDER": "hashing:64"}  # fmt: skip


@pytest.mark.slow
def test_every_tool_over_stdio(
    store: Store, repo: Callable[[Files], Path], kgents_home: Path
) -> None:
    root = repo(FILES)
    refresh_repository(store, root, repo="calc")
    sync_catalog(store, HashingEmbedder(64), repo="calc")
    with store.transaction() as conn:
        detect_and_summarize(conn, "calc", root)  # the API baseline
    EventJournal(store).append(
        TestFailed(nodeid="tests/test_geometry.py::test_area", session_id="s1", source="pytest",
                   message="ZeroDivisionError: division by zero", longrepr=LONGREPR),
        repo="calc",
    )  # fmt: skip

    tools, answers = asyncio.run(call_all(server_env(store.url, kgents_home)))
    assert tools >= {"node_context", "discover", "failure_context", "impact_summary"}

    blob = answers["node_context"]
    assert blob["freshness_status"] == "fresh" and blob["signature"] == "def area(w, h)"
    assert [c["full_name"] for c in blob["callees"]] == ["calc.geometry.scale"]
    assert "calc.report.describe" in [c["full_name"] for c in blob["callers"]]

    found = answers["discover"]
    assert found["status"] == "ok" and found["hits"][0]["name"] == "calc.geometry.area"

    bundle = answers["failure_context"]["bundle"]
    assert bundle["failing_node"] == "calc.geometry.scale"
    assert [f["full_name"] for f in bundle["frames"]] == [
        "test_geometry.test_area", "calc.geometry.area", "calc.geometry.scale",
    ]  # fmt: skip

    summary = answers["impact_summary"]["summary"]
    assert [(s["file_path"], s["line"]) for s in summary["callsites"]] == [
        ("calc/report.py", 5), ("tests/test_geometry.py", 5),
    ]  # fmt: skip
    assert (root / ".agentfs/impact/calc/geometry.py/area.json").is_file()
    with store.connect() as conn:
        traced = conn.execute("SELECT surface, freshness FROM hub_context_traces").fetchall()
    assert traced == [("mcp", "fresh")]


@pytest.mark.slow
def test_with_the_hub_down_every_tool_answers_missing(kgents_home: Path) -> None:
    env = server_env("postgresql://kg:secret@127.0.0.1:9/none", kgents_home)
    _, answers = asyncio.run(call_all(env))
    for name, answer in answers.items():
        assert answer["freshness_status"] == "missing", (name, answer)
        assert "the hub is down" in answer["reason"] and "secret" not in json.dumps(answer)
