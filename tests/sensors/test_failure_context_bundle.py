"""The test-failure sensor's job also writes the failure context bundle: a failure the
pytest plugin journaled (no repository on the event) lands in the repository whose model
holds the test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from sensors.events import TestFailed
from sensors.failure_context import record_failure_contexts
from sensors.journal import EventJournal
from tests.repo_helpers import Files

FILES: Files = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "def f(x):\n    return g(x)\n\n\ndef g(x):\n    return 1 / x\n",
    "tests/test_mod.py": "from pkg.mod import f\n\n\ndef test_f():\n    assert f(0)\n",
}
LONGREPR = (
    "    def test_f():\n>       assert f(0)\n\ntests/test_mod.py:5: \n_ _ _\n"
    "pkg/mod.py:2: in f\n    return g(x)\n_ _ _\n>   return 1 / x\n"
    "E   ZeroDivisionError: division by zero\n\npkg/mod.py:6: ZeroDivisionError"
)


def test_the_sensor_job_writes_the_bundle(store: Store, repo: Callable[[Files], Path]) -> None:
    root = repo(FILES)
    refresh_repository(store, root, repo="pkg")
    seq = EventJournal(store).append(
        TestFailed(nodeid="tests/test_mod.py::test_f", session_id="s", source="pytest",
                   message="ZeroDivisionError: division by zero", longrepr=LONGREPR)
    )  # fmt: skip
    (ctx,) = record_failure_contexts(store, [seq])
    assert ctx.test_node_id is not None and ctx.test_node_id.startswith("pkg:")
    assert ctx.bundle == ".agentfs/failures/tests/test_mod.py/test_f.json"
    bundle = json.loads((root / ctx.bundle).read_text())
    assert bundle["failing_node"] == "pkg.mod.g" and bundle["source"] == f"journal #{seq} (pytest)"
    assert [f["full_name"] for f in bundle["frames"]] == [
        "test_mod.test_f",
        "pkg.mod.f",
        "pkg.mod.g",
    ]
