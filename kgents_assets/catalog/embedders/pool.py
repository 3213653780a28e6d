"""Embedding a bulk load in worker processes, results in submission order.

A cold catalog load embeds tens of thousands of texts with a CPU-bound, pure-Python
embedder (the hashing one): one process per core divides the wall time, and the caller's
process stays free to write entries to PostgreSQL meanwhile. Only embedders that say they
are ``parallel`` (deterministic, cheap to rebuild from a pickle) go to a pool; each text's
vector does not depend on which process computed it, so the result is the same to the bit.

Workers are plain interpreters serving ``embedders.worker`` over pipes, not
multiprocessing children: ``fork`` would copy a threaded Dagster run worker and its open
connections, and ``spawn`` imports the caller's ``__main__`` again in every worker (a
script syncing without an ``if __name__ == "__main__"`` guard then hung, its workers
waiting on the catalog lock it held). Should a worker fail to start, die, or fail a chunk,
the caller's process embeds the rest of the texts itself: slower, same vectors.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from queue import SimpleQueue
from typing import IO, Any

from kgents_assets.catalog.embedders.base import Embedder, Vectors
from kgents_assets.catalog.embedders.worker import BOOT, read_frame, write_frame

#: Processes for a bulk load: the machines this runs on have 2 cores to share.
DEFAULT_PROCESSES = 2
#: How long a worker may take to end once its input is closed before it is killed.
STOP_TIMEOUT_S = 5.0
#: The directory holding the ``kgents_assets`` package, whether installed or a checkout.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])
log = logging.getLogger(__name__)


class WorkerFailed(RuntimeError):
    """A worker could not embed a chunk: it died, or embedding raised there."""


def is_parallel(embedder: Embedder) -> bool:
    """Whether ``embedder`` declares itself fit for a process pool (see ``Embedder``)."""
    return bool(getattr(embedder, "parallel", False))


class _Worker:
    """One worker process: a feeder thread writes chunks to its stdin, a reader thread
    resolves their futures, in order, from its stdout."""

    def __init__(self, embedder: Embedder) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BOOT, _PACKAGE_ROOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._lock = threading.Lock()
        self._waiting: deque[Future[Vectors]] = deque()
        self._inbox: SimpleQueue[list[str] | None] = SimpleQueue()
        self._dead: str | None = None
        self._stopping = False
        assert self.proc.stdin is not None and self.proc.stdout is not None
        stdin, stdout = self.proc.stdin, self.proc.stdout
        self._feeder = threading.Thread(
            target=self._feed, args=(stdin, embedder), name="embed-feed", daemon=True
        )
        self._reader = threading.Thread(
            target=self._read, args=(stdout,), name="embed-read", daemon=True
        )
        self._feeder.start()
        self._reader.start()

    @property
    def load(self) -> int:
        return len(self._waiting)

    def submit(self, texts: list[str]) -> Future[Vectors]:
        future: Future[Vectors] = Future()
        with self._lock:  # the reader drains under it: no future is left behind a death
            if self._dead is not None:
                future.set_exception(WorkerFailed(self._dead))
                return future
            self._waiting.append(future)
        self._inbox.put(texts)
        return future

    def _feed(self, stdin: IO[bytes], embedder: Embedder) -> None:
        try:
            write_frame(stdin, sys.path)
            write_frame(stdin, embedder)
            while (texts := self._inbox.get()) is not None:
                if not self._stopping:
                    write_frame(stdin, texts)
        except OSError:
            pass  # the worker is gone: its reader fails what it held
        except Exception:  # e.g. an embedder that cannot be pickled: end the worker
            log.exception("could not hand work to embedding worker %s", self.proc.pid)
            self.proc.kill()
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self, stdout: IO[bytes]) -> None:
        try:
            while True:
                ok, value = read_frame(stdout)
                future = self._waiting.popleft()
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(WorkerFailed(f"the worker failed a chunk: {value}"))
        except Exception as exc:  # EOF above all: whatever it is, this worker is done
            reason = f"worker process {self.proc.pid} ended ({type(exc).__name__}: {exc})"
            self.proc.kill()
        with self._lock:
            self._dead = reason
            while self._waiting:
                self._waiting.popleft().set_exception(WorkerFailed(reason))

    def request_stop(self) -> None:
        """Close the worker's input once its current chunk is done; chunks not sent yet
        are dropped."""
        if not self._stopping:
            self._stopping = True
            self._inbox.put(None)

    def stop(self) -> None:
        self.request_stop()
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(STOP_TIMEOUT_S)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


class EmbeddingPool:
    """Submit chunks of texts with ``submit``; ``results`` yields their vectors in the same
    order. Use as a context manager: leaving it stops the workers (also on an error)."""

    def __init__(
        self, embedder: Embedder, processes: int = DEFAULT_PROCESSES, *, warm: bool = False
    ) -> None:
        """``warm``: start every worker now (they import while the caller works) rather
        than on the first chunk."""
        self._embedder = embedder
        self._processes = max(1, processes)
        self._workers: list[_Worker] = []
        self._broken = False
        self._pending: deque[tuple[Future[Vectors] | None, list[str]]] = deque()
        if warm:
            self._start()

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (started ones)."""
        return [w.proc.pid for w in self._workers]

    def _start(self) -> bool:
        if not self._workers and not self._broken:
            try:
                for _ in range(self._processes):
                    self._workers.append(_Worker(self._embedder))
            except OSError as exc:
                self._give_up(exc)
        return not self._broken

    def submit(self, texts: Sequence[str]) -> None:
        chunk = list(texts)
        future = None
        if self._start():
            future = min(self._workers, key=lambda w: w.load).submit(chunk)
        self._pending.append((future, chunk))

    def results(self) -> Iterator[Vectors]:
        """Vectors of each submitted chunk, in submission order (blocks until ready)."""
        while self._pending:
            future, chunk = self._pending.popleft()
            if future is not None and not self._broken:
                try:
                    yield future.result()
                    continue
                except WorkerFailed as exc:
                    self._give_up(exc)
            yield self._embedder.embed(chunk)

    def _give_up(self, exc: BaseException) -> None:
        self._broken = True
        for worker in self._workers:  # the caller does the rest: no CPU left to them
            worker.request_stop()
        log.warning("embedding worker processes failed (%s): embedding in this process", exc)

    def close(self) -> None:
        self._pending.clear()
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.request_stop()
        for worker in workers:
            worker.stop()

    def __enter__(self) -> EmbeddingPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["DEFAULT_PROCESSES", "EmbeddingPool", "WorkerFailed", "is_parallel"]
