"""The embedded server outlives the environment that started it: a clone's venv deleted
under a running server leaves it answering queries until it needs a library. Opening the
store restarts it from this environment instead of failing a run halfway (the CI's fresh
clone met exactly this: ``could not access file "$libdir/vector"``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from kgents_assets.store import open_store
from kgents_assets.store.database import stop_orphaned_server

STARTER = """
import sys
sys.path.insert(0, sys.argv[1])
import pgserver
assert pgserver.__file__.startswith(sys.argv[1]), pgserver.__file__
print(pgserver.get_server(sys.argv[2], cleanup_mode=None).get_uri())
"""


def _pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split("\n", 1)[0])


@pytest.mark.skipif(not Path("/proc/self/exe").exists(), reason="reads /proc (Linux)")
def test_a_server_left_by_a_deleted_environment_is_restarted_from_this_one(
    kgents_home: Path,
) -> None:
    import pgserver  # type: ignore[import-untyped]

    # another environment (a clone's .venv) with its own copy of pgserver starts the server
    other = Path(tempfile.mkdtemp(prefix="kgents-other-env-"))
    other.chmod(0o755)  # postgres runs as pgserver's own user when we are root
    site = Path(pgserver.__file__).parent.parent
    for part in ("pgserver", "pgserver.libs"):  # the package and its bundled libraries
        if (site / part).is_dir():
            shutil.copytree(site / part, other / part, symlinks=True)
    data = kgents_home / "pg"
    data.mkdir()
    started = subprocess.run(
        [sys.executable, "-c", STARTER, str(other), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr[-3000:]
    url = started.stdout.strip().splitlines()[-1]
    orphan = _pid(data)
    with psycopg.connect(url, autocommit=True) as conn:  # a store was built on it
        conn.execute("CREATE EXTENSION vector")
    shutil.rmtree(other)  # the clone is deleted; its server keeps running

    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)  # it still answers...
        with pytest.raises(psycopg.errors.UndefinedFile, match=r"\$libdir/vector"):
            conn.execute("SELECT '[1,2]'::vector")  # ...until it needs a file

    store = open_store(None)  # migrates: creates the vector extension
    with store.connect() as conn:
        distance = conn.execute("SELECT '[1,2]'::vector <-> '[4,6]'::vector").fetchone()
    assert distance == (5.0,)
    assert _pid(data) != orphan
    assert not Path(f"/proc/{orphan}").exists() or _zombie(orphan)
    assert not str(Path(f"/proc/{_pid(data)}/exe").readlink()).endswith("(deleted)")
    # a healthy server is joined, never stopped
    assert stop_orphaned_server(data) is False
    assert open_store(None).url == store.url


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
