"""A process that opens the embedded store while its server runs joins it from the
server's ``postmaster.pid``, without importing pgserver (psutil, platformdirs, fasteners:
0.1-0.8 s of every ``kg hub --once``); with no server running, pgserver starts one, as
before. Real processes, a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kgents_assets.store import open_store
from tests.pg_helpers import stop_embedded_server

OPEN = """
import json, sys
from kgents_assets.store import open_store
store = open_store(None, migrate=False)
with store.connect() as conn:
    one = conn.execute("SELECT 1").fetchone()[0]
print(json.dumps({"url": store.url, "one": one, "pgserver": "pgserver" in sys.modules}))
"""


def _open_in_a_process() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", OPEN], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_running_server_is_joined_without_pgserver(kgents_home: Path) -> None:
    started = open_store(None, migrate=False)  # pgserver starts the server here

    joined = _open_in_a_process()
    assert joined == {"url": started.url, "one": 1, "pgserver": False}

    stop_embedded_server(kgents_home / "pg")  # nothing running: pgserver starts it again
    assert not (kgents_home / "pg" / "postmaster.pid").exists()
    restarted = _open_in_a_process()
    assert restarted == {"url": started.url, "one": 1, "pgserver": True}
    assert (kgents_home / "pg" / "postmaster.pid").exists()


def test_a_server_not_ready_is_left_to_pgserver(kgents_home: Path) -> None:
    from kgents_assets.store.database import running_server_uri

    started = open_store(None, migrate=False)
    pid_file = kgents_home / "pg" / "postmaster.pid"
    assert running_server_uri(kgents_home / "pg") == started.url
    lines = pid_file.read_text().splitlines()
    for status in ("starting", "stopping"):  # what postgres writes while it is not up
        assert running_server_uri(_with_status(pid_file, lines, status)) is None
    pid_file.write_text("\n".join(lines) + "\n")  # as the server wrote it


def _with_status(pid_file: Path, lines: list[str], status: str) -> Path:
    pid_file.write_text("\n".join([*lines[:7], status.ljust(8)]) + "\n")
    return pid_file.parent
