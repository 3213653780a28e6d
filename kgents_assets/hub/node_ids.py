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


#: separates the repository from the hash in a node id; repository names cannot contain it
REPO_SEPARATOR = ":"


def qualify_node_id(repo: str, local_id: str) -> str:
    """``{repo}:{hash}``: discovery hashes what is in a file; the repository makes the id
    unique in a store that models many repositories (two forks share every hash)."""
    return f"{repo}{REPO_SEPARATOR}{local_id}"


def repo_of_node_id(node_id: str) -> str | None:
    repo, sep, _ = node_id.partition(REPO_SEPARATOR)
    return repo if sep else None
