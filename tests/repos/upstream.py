"""Real git remotes for the git-source tests: a bare repository on disk that a second
working copy commits and pushes to, and tiny HTTP servers that refuse a login or stall
mid-response (the faults a URL repository meets), all on this machine."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.repo_helpers import Files, write_files

#: No user or system git config leaks into the tests' commits and pushes.
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **_GIT_ENV},
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} in {cwd}: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class Upstream:
    """A bare repository (the remote) and the working copy that writes its history."""

    bare: Path
    author: Path
    shas: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path, name: str = "upstream") -> Upstream:
        bare, author = root / f"{name}.git", root / f"{name}-author"
        author.mkdir(parents=True)
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        git(author, "init", "--quiet", "--initial-branch=main")
        return cls(bare=bare, author=author)

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(
        self, files: Files, *, delete: tuple[str, ...] = (), branch: str = "main", msg: str = "c"
    ) -> str:
        if self.shas:
            exists = git(self.author, "branch", "--list", branch)
            git(self.author, "checkout", "--quiet", *(() if exists else ("-b",)), branch)
        write_files(self.author, files)
        for rel in delete:
            (self.author / rel).unlink()
        git(self.author, "add", "--all")
        git(self.author, "commit", "--quiet", "--allow-empty", "-m", msg)
        sha = git(self.author, "rev-parse", "HEAD")
        git(self.author, "push", "--quiet", "--force", str(self.bare), f"HEAD:refs/heads/{branch}")
        self.shas.append(sha)
        return sha


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a working tree except ``.git`` (what the pipeline would read)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requested: threading.Event
    release: threading.Event


class _RefusesLogin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="private"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Stalls(BaseHTTPRequestHandler):
    """Starts a smart-HTTP answer, then sends nothing more: git waits mid-transfer."""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
        self.end_headers()
        self.wfile.write(b"001e# service=git-upload-pack\n")
        self.wfile.flush()
        server.requested.set()
        server.release.wait(120)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), handler)
    server.requested, server.release = threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def server_url(server: _Server, path: str = "/repo.git", userinfo: str = "") -> str:
    host, port = server.server_address[:2]
    at = f"{userinfo}@" if userinfo else ""
    return f"http://{at}{host!s}:{port}{path}"


def refusing_login() -> AbstractContextManager[_Server]:
    return _serve(_RefusesLogin)


def stalling() -> AbstractContextManager[_Server]:
    return _serve(_Stalls)
