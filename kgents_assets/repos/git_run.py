"""Running ``git`` against remotes we do not control: no prompt, a deadline, no secret shown.

A remote named by a user's URL may ask for a password, stall mid-transfer or echo the URL
(with its token) in an error. So every git command here:

- runs in its own session (``setsid``) with stdin closed: it has no controlling terminal,
  so neither git nor ssh can open ``/dev/tty`` to ask for anything;
  ``GIT_TERMINAL_PROMPT=0`` and an empty ``GIT_ASKPASS``/``SSH_ASKPASS`` make git fail at
  once with "terminal prompts disabled" instead. Credential helpers configured by the user
  still work: they answer without asking a person.
- has a timeout; on expiry the whole process group is killed (git's helpers — the
  ``remote-https`` transport, ``upload-pack`` of a ``file://`` remote, ``index-pack`` — are
  its children, and killing only git would leave them writing into the clone).
- never runs hooks nor gc in the background, so nothing outlives the call.
- reports failures as ``GitSourceError`` whose text has credentials redacted.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: ``scheme://user:secret@host`` -> ``scheme://user:***@host``; the user name stays (it
#: tells which account failed), the secret never reaches a log or an error. The secret runs
#: to the last ``@`` of the authority, so an unescaped ``@`` in it is hidden too.
_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*):[^/\s]*@")
#: Variables that point git at some other repository (set inside hooks, or by a user's
#: shell); inherited, they would make our commands act on that repository instead.
_LOCAL_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)
_ALWAYS = (
    # No hook of a clone ever runs, and gc/maintenance run in the foreground (bounded by
    # the timeout) instead of detaching into a process that outlives the call.
    "core.hooksPath=/dev/null",
    "gc.autoDetach=false",
    "maintenance.autoDetach=false",
    "credential.interactive=false",
)
#: After the kill, how long to wait for the pipes to close before giving up on them.
_REAP_S = 5.0


class GitSourceError(RuntimeError):
    """Git could not give us the repository; the message is git's own, secrets redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


def redact(text: str) -> str:
    return _CREDENTIALS.sub(r"\g<head>:***@", text)


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LOCAL_REPO_ENV}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GCM_INTERACTIVE="never",
        # LFS smudging would download from the LFS server, a host the URL does not name.
        GIT_LFS_SKIP_SMUDGE="1",
        LC_ALL="C",  # git's messages in English: errors are matched and shown as they are
    )
    return env


def run_git(
    args: Sequence[str],
    *,
    what: str,
    timeout_s: float,
    cwd: Path | None = None,
    check: bool = True,
) -> GitResult:
    """Run ``git args``; ``what`` names the step in errors ("fetch of https://...")."""
    cmd = ["git"]
    for setting in _ALWAYS:
        cmd += ["-c", setting]
    cmd += list(args)
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=git_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise GitSourceError("the `git` command is not installed on this machine") from exc
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise GitSourceError(f"{what} timed out after {timeout_s:g} s and was stopped") from None
    except BaseException:
        _kill_group(proc)  # interrupted (Ctrl-C, run cancelled): take git's helpers along
        raise
    result = GitResult(proc.returncode, out, err)
    if check and not result.ok:
        raise GitSourceError(f"{what} failed: {describe_failure(result)}")
    return result


def describe_failure(result: GitResult) -> str:
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("hint:")] or lines
    return " ".join(lines) if lines else f"git exited with status {result.returncode}"


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=_REAP_S)
    except subprocess.TimeoutExpired:  # a helper escaped the group and holds a pipe
        proc.kill()
        proc.wait()
