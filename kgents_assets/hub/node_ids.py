"""Stable node ids.

An id hashes (path, kind, qualified name, ordinal), never line numbers or source text, so
reformatting a file or moving a function within it keeps every id. The ordinal tells apart
same-named nodes of one file (``if PY3: def f() ... else: def f()``, property setters): the
first keeps ordinal 0, so adding a duplicate later never renames the original.
"""

from __future__ import annotations

import hashlib

ID_HEX_CHARS = 20  # 80 bits: collisions are out of reach for any real repository


def make_node_id(file_path: str, kind: str, qualname: str, ordinal: int = 0) -> str:
    key = f"{file_path}\0{kind}\0{qualname}" + (f"\0{ordinal}" if ordinal else "")
    return hashlib.blake2b(key.encode(), digest_size=ID_HEX_CHARS // 2).hexdigest()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
