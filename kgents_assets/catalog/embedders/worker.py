"""One embedding worker process of ``pool.EmbeddingPool`` (started by ``BOOT``).

It reads frames from stdin and answers on stdout, in order: the first frame is the
caller's ``sys.path`` (entries missing here are appended, so an embedder defined in the
caller's own modules unpickles), the second the embedder, each later one a list of texts,
answered by their vectors. A frame is
an 8-byte little-endian length and a pickle. Each answer is ``(True, vectors)``, or
``(False, "the error")`` when embedding the chunk raised: the worker goes on, the caller
decides. End of input ends the process, so a worker never outlives the process that feeds
it; it ignores SIGINT (Ctrl-C in a terminal reaches the whole group), the caller decides.

Started as a plain interpreter rather than by multiprocessing: a ``spawn`` child imports
the parent's ``__main__`` again, so a script calling ``sync_catalog`` without an
``if __name__ == "__main__"`` guard ran the sync once more in each worker, which waited on
the catalog lock its parent held: a hang (and under ``kg`` or Dagster, each worker also
imported the whole CLI it does not use).
"""

from __future__ import annotations

import pickle
import signal
import struct
import sys
from typing import IO, Any

_LENGTH = struct.Struct("<Q")
#: ``python -c`` code starting a worker; argv[1] is the directory holding this package.
BOOT = (
    "import sys; root = sys.argv[1]; root in sys.path or sys.path.append(root); "
    "from kgents_assets.catalog.embedders.worker import main; main()"
)


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's value; EOFError when the stream ends (also inside a frame)."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the stream ended")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the stream ended inside a frame")
    return pickle.loads(data)


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    try:
        sys.path.extend(p for p in read_frame(source) if p not in sys.path)
        embedder = read_frame(source)
    except EOFError:
        return
    while True:
        try:
            texts = read_frame(source)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, embedder.embed(texts))
        except Exception as exc:  # answered: the caller embeds the chunk itself, and sees why
            answer = (False, f"{type(exc).__name__}: {exc}")
        write_frame(sink, answer)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the frames own stdout: anything printed by an embedder goes to stderr instead
    sink = sys.stdout.buffer
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, sink)
