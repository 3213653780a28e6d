"""What a git source names: a URL or local path, a branch, a commit — checked before git runs.

Everything here is cheap and local: no git command, no network. It turns the user's text
into arguments git cannot mistake for options and a local path git resolves from any
directory (the clone's commands run inside the clone, where a relative path would point
somewhere else).
"""

from __future__ import annotations

import re
from pathlib import Path

from kgents_assets.repos.git_run import GitSourceError

HEADS = "refs/heads/"
#: Where a clone keeps the tip it fetched: ``refs/remotes/origin/<branch>``, or
#: ``refs/remotes/origin/HEAD`` for the remote's default branch. No remote is configured
#: (the URL, which may carry a token, is never written into ``.git/config``), but the names
#: are the ones every git user knows from a clone.
TRACKING = "refs/remotes/origin/"
_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def source_arg(url: str) -> str:
    """``url`` as git should get it: URLs and ``host:path`` as given, local paths absolute."""
    url = url.strip()
    if not url:
        raise GitSourceError("a git source needs a URL or a path; got an empty string")
    if url.startswith("-"):
        raise GitSourceError(f"{url!r} is not a git URL or path (it starts with '-')")
    if "://" in url or _scp_like(url):
        return url
    return str(Path(url).expanduser().resolve())


def _scp_like(url: str) -> bool:
    """git's rule: a ``:`` before any ``/`` means ``[user@]host:path`` over ssh."""
    head, sep, _ = url.partition(":")
    return bool(sep) and "/" not in head and len(head) > 1  # "C:" is a drive, not a host


def branch_name(branch: str) -> str:
    """The short name of ``branch`` (``main`` or ``refs/heads/main``), refused if git would."""
    name = branch.removeprefix(HEADS)
    if (
        not name
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or ".." in name
        or "//" in name
        or "@{" in name
        or name == "@"
        or _BAD_REF.search(name)
    ):
        raise GitSourceError(f"{branch!r} is not a valid branch name")
    return name


def tracking_ref(branch: str | None) -> str:
    return TRACKING + (branch_name(branch) if branch is not None else "HEAD")


def remote_ref(branch: str | None) -> str:
    return HEADS + branch_name(branch) if branch is not None else "HEAD"


def commit_id(sha: str) -> str:
    """A full or abbreviated commit id; anything else (a ref, an option) is refused."""
    sha = sha.strip()
    if not _SHA.match(sha):
        raise GitSourceError(f"{sha!r} is not a commit id (4 to 64 hexadecimal digits)")
    return sha.lower()


def missing_branch(source: str, branch: str, branches: list[str] | None) -> GitSourceError:
    if branches is None:
        known = "the remote's branches could not be listed"
    elif branches:
        known = "branches there: " + ", ".join(sorted(branches))
    else:
        known = "the remote has no branches"
    return GitSourceError(f"branch {branch!r} does not exist at {source}; {known}")
