"""``kg repo`` and ``kg hub --once`` naming, as a user types them (real processes, real
PostgreSQL, real Dagster instance)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.executables import project_executable
from tests.repo_helpers import write_files

KG = project_executable("kg")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "KGENTS_FIXTURES_DIR": str(tmp_path / "fixtures"),
    }


def kg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KG, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def refused_without_dagster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``kg`` refusing what it was given, exit code 2, before it loads Dagster (about a
    second of the wait for an answer to a typo): -X importtime lists what it imported."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", KG, *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr[-2000:]
    imported = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", out.stderr, re.M)
    assert imported and "dagster" not in {n.split(".")[0] for n in imported}
    out.stderr = "\n".join(line for line in out.stderr.splitlines() if "import time:" not in line)
    return out


@pytest.mark.slow
def test_add_list_remove_and_hub_once_side_by_side(tmp_path: Path, env: dict[str, str]) -> None:
    one, two = tmp_path / "one" / "svc", tmp_path / "two" / "lib"
    write_files(one, {"svc.py": "def serve():\n    return 1\n"})
    write_files(two, {"lib.py": "def helper():\n    return 2\n"})

    added = kg(env, "repo", "add", "lib", str(two), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["created"] is True
    again = kg(env, "repo", "add", "lib", str(two))
    assert again.returncode == 0 and "already registered" in again.stderr

    once = kg(env, "hub", "--once", str(one), "--json")  # registers "svc" from the directory
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout)["repository"] == "svc"
    assert kg(env, "hub", "--once", str(two), "--json").returncode == 0

    listed = json.loads(kg(env, "repo", "list", "--json").stdout)
    by_name = {r["name"]: r for r in listed}
    assert set(by_name) == {"lib", "svc"}
    assert by_name["svc"]["nodes"] == 2 and by_name["lib"]["nodes"] == 2
    assert by_name["svc"]["freshness"] == "fresh" and by_name["svc"]["last_refresh_at"]
    table = kg(env, "repo", "list")
    assert "svc" in table.stdout and "fresh" in table.stdout

    removed = kg(env, "repo", "remove", "lib")
    assert removed.returncode == 0, removed.stderr
    assert not (two / ".agentfs" / "nodes").exists()
    assert (one / ".agentfs" / "nodes" / "svc.py" / "serve.md").exists()
    assert [r["name"] for r in json.loads(kg(env, "repo", "list", "--json").stdout)] == ["svc"]


def test_two_paths_with_one_name_is_an_error_naming_both(
    tmp_path: Path, env: dict[str, str]
) -> None:
    first, second = tmp_path / "a" / "app", tmp_path / "b" / "app"
    write_files(first, {"x.py": "x = 1\n"})
    write_files(second, {"y.py": "y = 1\n"})
    assert kg(env, "repo", "add", "app", str(first)).returncode == 0
    clash = kg(env, "hub", "--once", str(second))
    assert clash.returncode == 2
    assert str(first) in clash.stderr and str(second) in clash.stderr and "--name" in clash.stderr


def test_bad_names_and_unknown_repositories_say_what_is_wrong(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write_files(tmp_path / "r", {"x.py": "x = 1\n"})
    for bad in ("a/b", "../x", "has space", "n" * 65):
        out = refused_without_dagster(env, "repo", "add", bad, str(tmp_path / "r"))
        assert "repository name" in out.stderr, (bad, out.stderr)
    assert kg(env, "repo", "add", "known", str(tmp_path / "r")).returncode == 0
    unknown = refused_without_dagster(env, "repo", "remove", "nope")
    assert "unknown repository 'nope'" in unknown.stderr and "known" in unknown.stderr
    not_there = refused_without_dagster(env, "repo", "add", "ghost", str(tmp_path / "missing"))
    assert "neither a directory nor a git URL" in not_there.stderr
