"""Plumbing of the search latency benchmark: two trees side by side on one catalog.

A *tree* is a checkout of kgents-assets: this one, or an older commit exported with
``git archive`` into a temporary directory. Each tree answers through its own processes,
so the two never share a module:

- ``ApiWorker``: a Python process that imports the tree's ``discover`` and times each call
  in-process (the Python API, as ``kg library discover`` calls it), one batch of queries
  per line on stdin;
- ``Gateway``: the tree's real ``kg gateway`` on loopback (``--no-dagster``), timed from
  here around each HTTP request (the REST route, as ``kg library discover`` calls it with
  ``$KGENTS_GATEWAY_URL`` set).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parents[1]
PACKAGES = ("kgents_assets", "gateway", "sensors", "resources", "fixtures")

WORKER = r"""
import json, sys, time
import kgents_assets
from kgents_assets.catalog.search import discover
from kgents_assets.store import Store

store = Store(url=sys.argv[1])
print(json.dumps({"tree": kgents_assets.__file__}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    options = {"mode": job["mode"], "limit": job["limit"]}
    if job.get("ef") is not None:
        options["ef_search"] = job["ef"]
    if job.get("repo") is not None:
        options["repo"] = job["repo"]
    ms, ids = [], []
    for query in job["queries"]:
        started = time.perf_counter()
        hits = discover(store, query, **options)
        ms.append((time.perf_counter() - started) * 1000)
        ids.append([hit.entry.id for hit in hits])
    print(json.dumps({"ms": ms, "ids": ids}), flush=True)
"""

GATEWAY = r"""
import sys
import kgents_assets
tree = sys.argv.pop(1)
if not kgents_assets.__file__.startswith(tree):
    raise SystemExit(f"kgents_assets imported from {kgents_assets.__file__}, not {tree}")
from kgents_assets.cli.main import app
app()
"""


def export_tree(commit: str, into: Path) -> Path:
    """The packages of ``commit`` (``git archive``), unpacked under ``into``."""
    archive = into / f"{commit}.tar"
    subprocess.run(
        ["git", "-C", str(HERE), "archive", "--format=tar", "-o", str(archive), commit,
         *[p for p in PACKAGES if (HERE / p).exists()]],
        check=True,
    )  # fmt: skip
    root = into / commit
    root.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root


def _env(tree: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGENTS_")}
    env.update(PYTHONPATH=str(tree), KGENTS_HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    return env


class ApiWorker:
    """A live process of ``tree`` that runs ``discover`` over batches of queries."""

    def __init__(self, tree: Path, url: str, scratch: Path) -> None:
        self.tree = tree
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, url],
            cwd=scratch,  # not /work/main: the current directory comes first on sys.path
            env=_env(tree, scratch / "home"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = json.loads(self._line())
        if not hello["tree"].startswith(str(tree)):
            raise SystemExit(f"FAILED: worker imported {hello['tree']}, not the tree {tree}")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"FAILED: the search worker of {self.tree} exited")
        return line

    def run(
        self, queries: list[str], mode: str, ef: int | None = None, repo: str | None = None
    ) -> tuple[list[float], list[list[str]]]:
        """(milliseconds per query, ids returned per query)."""
        assert self.proc.stdin is not None
        job = {"queries": queries, "mode": mode, "limit": 10, "ef": ef, "repo": repo}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        done = json.loads(self._line())
        return done["ms"], done["ids"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gateway:
    """``kg gateway --no-dagster`` of ``tree`` on a free loopback port."""

    tree: Path
    url: str
    scratch: Path

    def __post_init__(self) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile(dir=self.scratch)  # noqa: SIM115 (lives as long as the gateway)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", GATEWAY, str(self.tree), "gateway", "--no-dagster",
             "--port", str(self.port), "--database-url", self.url, "--repo", str(self.scratch),
             "--log-level", "warning"],
            cwd=self.scratch,
            env=_env(self.tree, self.scratch / "home"),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"FAILED: gateway of {self.tree} exited:\n{self.log.read()!r}")
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"FAILED: gateway of {self.tree} not up in 120 s")
            time.sleep(0.2)

    def run(
        self, queries: list[str], mode: str, repo: str | None = None
    ) -> tuple[list[float], list[list[str]]]:
        """(milliseconds per request, client side, keep-alive; ids returned per query)."""
        ms, ids = [], []
        params: dict[str, Any] = {"mode": mode, "limit": 10}
        if repo is not None:
            params["repo"] = repo
        for query in queries:
            started = time.perf_counter()
            response = self.client.get("/api/library/discover", params={**params, "q": query})
            ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(
                    f"FAILED: {response.status_code} from {self.tree}: {response.text}"
                )
            ids.append([hit["entry"]["id"] for hit in response.json()["hits"]])
        return ms, ids

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
