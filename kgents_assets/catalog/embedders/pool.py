"""Embedding a bulk load in worker processes, results in submission order.

A cold catalog load embeds tens of thousands of texts with a CPU-bound, pure-Python
embedder (the hashing one): one process per core divides the wall time, and the caller's
process stays free to write entries to PostgreSQL meanwhile. Only embedders that say they
are ``parallel`` (deterministic, cheap to rebuild from a pickle) go to a pool; each text's
vector does not depend on which process computed it, so the result is the same to the bit.

Workers are started with ``spawn``: the caller may be a threaded Dagster run worker with an
open database connection, which a ``fork`` would copy. As with any ``spawn``, a script
that syncs at import time must guard its entry point (``if __name__ == "__main__"``);
should the workers die or fail to start anyway, the caller's process embeds the rest of
the texts itself: slower, same vectors.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from kgents_assets.catalog.embedders.base import Embedder, Vectors

#: Processes for a bulk load: the machines this runs on have 2 cores to share.
DEFAULT_PROCESSES = 2
log = logging.getLogger(__name__)

_worker_embedder: Embedder | None = None


def _init_worker(embedder: Embedder) -> None:
    global _worker_embedder
    _worker_embedder = embedder


def _embed_chunk(texts: Sequence[str]) -> Vectors:
    assert _worker_embedder is not None, "the pool's initializer did not run"
    return _worker_embedder.embed(texts)


def is_parallel(embedder: Embedder) -> bool:
    """Whether ``embedder`` declares itself fit for a process pool (see ``Embedder``)."""
    return bool(getattr(embedder, "parallel", False))


class EmbeddingPool:
    """Submit chunks of texts with ``submit``; ``results`` yields their vectors in the same
    order. Use as a context manager: leaving it stops the workers (also on an error)."""

    def __init__(
        self, embedder: Embedder, processes: int = DEFAULT_PROCESSES, *, warm: bool = False
    ) -> None:
        """``warm``: start every worker now (they import while the caller works) rather
        than on the first chunks."""
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(embedder,),
        )
        self._embedder = embedder
        self._broken = False
        self._pending: deque[tuple[Future[Vectors] | None, list[str]]] = deque()
        if warm:
            try:
                for _ in range(processes):  # each submit starts one more worker, up to max
                    self._executor.submit(_embed_chunk, [])
            except BrokenProcessPool as exc:
                self._give_up(exc)

    def submit(self, texts: Sequence[str]) -> None:
        chunk = list(texts)
        future = None
        if not self._broken:
            try:
                future = self._executor.submit(_embed_chunk, chunk)
            except BrokenProcessPool as exc:
                self._give_up(exc)
        self._pending.append((future, chunk))

    def results(self) -> Iterator[Vectors]:
        """Vectors of each submitted chunk, in submission order (blocks until ready)."""
        while self._pending:
            future, chunk = self._pending.popleft()
            if future is not None and not self._broken:
                try:
                    yield future.result()
                    continue
                except BrokenProcessPool as exc:
                    self._give_up(exc)
            yield self._embedder.embed(chunk)

    def _give_up(self, exc: BaseException) -> None:
        self._broken = True
        log.warning("embedding worker processes failed (%s): embedding in this process", exc)

    def close(self) -> None:
        for future, _ in self._pending:
            if future is not None:
                future.cancel()
        self._pending.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> EmbeddingPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["DEFAULT_PROCESSES", "EmbeddingPool", "is_parallel"]
