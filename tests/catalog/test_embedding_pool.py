"""The embedding pool's workers are plain interpreters: a script without a main guard runs
once, an embedder of the caller's own modules works there, and a worker that fails a
chunk leaves it to the caller."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.embedders.base import Vectors
from kgents_assets.catalog.embedders.pool import EmbeddingPool
from kgents_assets.store import Store
from tests.catalog.conftest import CORPUS, put_nodes

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [f"def parse_config_{i}(path): return load(path) # item {i}" for i in range(40)]


class PidEmbedder:
    """Each row holds the id of the process that embedded it."""

    parallel = True
    id = "pid"
    dimension = 4

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.full((len(texts), self.dimension), os.getpid(), dtype=np.float32)


class FailsInWorkers:
    """The hashing embedder, except in a process other than the one that made it."""

    parallel = True
    id = "fails-in-workers"
    dimension = 32

    def __init__(self) -> None:
        self.home = os.getpid()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if os.getpid() != self.home:
            raise RuntimeError("no model in this process")
        return HashingEmbedder(self.dimension).embed(texts)


def test_chunks_are_embedded_by_worker_processes_with_the_callers_own_embedder() -> None:
    with EmbeddingPool(PidEmbedder(), 2, warm=True) as pool:
        workers = set(pool.pids)
        for at in range(0, len(TEXTS), 5):
            pool.submit(TEXTS[at : at + 5])
        pids = {int(v[0, 0]) for v in pool.results()}
    assert os.getpid() not in pids
    assert pids == workers and len(workers) == 2


def test_a_chunk_a_worker_fails_is_embedded_by_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    embedder = FailsInWorkers()
    with caplog.at_level(logging.WARNING), EmbeddingPool(embedder, 2, warm=True) as pool:
        for at in range(0, len(TEXTS), 10):
            pool.submit(TEXTS[at : at + 10])
        vectors = np.vstack(list(pool.results()))
    assert vectors.tobytes() == embedder.embed(TEXTS).tobytes()
    assert "RuntimeError: no model in this process" in caplog.text
    assert "embedding in this process" in caplog.text


def test_leaving_the_pool_ends_its_workers() -> None:
    with EmbeddingPool(HashingEmbedder(16), 2, warm=True) as pool:
        procs = list(pool._workers)
        pool.submit(TEXTS)
        next(pool.results())
    assert [w.proc.poll() for w in procs] == [0, 0]


def _run_script(
    tmp_path: Path, body: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``body`` as a script file without a main guard, from the user's point of view:
    its own directory first on sys.path; returns the process and the lines it logged."""
    script = tmp_path / "no_guard.py"
    log = tmp_path / "ran.log"
    script.write_text(textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(log), *args],
            capture_output=True, text=True, timeout=90, env=env, cwd=tmp_path,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the script hung: {exc.stderr!r}")
    lines = log.read_text().splitlines() if log.exists() else []
    return done, lines


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    done, ran = _run_script(
        tmp_path,
        """
        import sys
        from kgents_assets.catalog.embedders import HashingEmbedder
        from kgents_assets.catalog.embedders.pool import EmbeddingPool

        with open(sys.argv[1], "a") as log:
            log.write("ran\\n")
        with EmbeddingPool(HashingEmbedder(64), 2, warm=True) as pool:
            for i in range(6):
                pool.submit([f"parse config {i}"] * 10)
            print("rows", sum(len(v) for v in pool.results()))
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["rows", "60"]
    assert ran == ["ran"], "the workers ran the user's script again"
    assert "Traceback" not in done.stderr and "failed" not in done.stderr


def test_a_script_syncing_the_catalog_without_a_main_guard_does_not_hang(
    tmp_path: Path, store: Store, embedder: HashingEmbedder
) -> None:
    """A cold sync embeds in the pool; with ``spawn`` each worker ran this script again and
    waited on the catalog lock the script held: it never ended."""
    put_nodes(store, CORPUS)
    done, ran = _run_script(
        tmp_path,
        """
        import sys
        from kgents_assets.catalog import sync
        from kgents_assets.catalog.embedders import HashingEmbedder
        from kgents_assets.store import Store

        with open(sys.argv[1], "a") as log:
            log.write("ran\\n")
        sync.POOL_MIN = 2  # this small corpus takes the bulk path, as a large one would
        report = sync.sync_catalog(
            Store(url=sys.argv[2]), HashingEmbedder(int(sys.argv[3])), repo="pkg"
        )
        print("added", report.added)
        """,
        store.url,
        str(embedder.dimension),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["added", str(len(CORPUS))]
    assert ran == ["ran"]
