"""A `kg` command started as a background job (SIGINT ignored, as a shell without job
control does for `kg ... &`) still stops on SIGTERM after it ran Dagster in process, and so
do the processes it starts afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Runs `kg fixture list` through the real entry point, then a real in-process Dagster run,
# then starts a child and reports how it ended, then sends itself SIGTERM.

SCRIPT = textwrap.dedent(
    """
    import os, signal, subprocess, sys
    import dagster as dg
    from kgents_assets.cli.main import app

    app(["fixture", "list"], standalone_mode=False)

    @dg.asset
    def one() -> int:
        return 1

    assert dg.materialize([one]).success
    child = subprocess.Popen(["sleep", "120"])
    print(f"child {child.pid}", flush=True)
    print(f"child ended {child.wait()}", flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    print("still running after SIGTERM", flush=True)
    """
)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_background_kg_and_its_children_stop_on_sigterm_after_a_dagster_run() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
    )
    child_pid = None
    try:
        assert proc.stdout is not None
        line = "-"
        while line and not line.startswith("child "):  # after `kg fixture list`'s table
            line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        child_pid = int(line.split()[1])
        # the child was started after the Dagster run: it must not have inherited an ignore
        status = Path(f"/proc/{child_pid}/status").read_text().splitlines()
        ignored = next(int(r.split()[1], 16) for r in status if r.startswith("SigIgn"))
        assert not ignored & (1 << (signal.SIGTERM - 1)), "the child ignores SIGTERM"
        os.kill(child_pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the child outlived its SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
        if child_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)
    assert f"child ended {-signal.SIGTERM}" in out, out + err
    # Dagster leaves SIGTERM doing what SIGINT does: a KeyboardInterrupt ends the process
    assert "still running after SIGTERM" not in out, "the kg process ignored SIGTERM"
    assert proc.returncode != 0, err
