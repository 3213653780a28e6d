"""A pytest process started before its test exists: ``python -m pytest`` with the start
taken off the caller's path.

The generated test's run (``test_creation.run_one``) is a new interpreter that imports
pytest and its built-in plugins before it reads the one test it runs: on Django that
start is about half of the child's wall time, and ``kg hub --once`` waits for the result
(the person's sentence reports it). A ``WarmPytest`` is that interpreter started early, by
the caller that knows a generated test may follow (``kg hub --once`` once it decided to
refresh in process); it imports pytest and the modules pytest's own start imports, then
blocks on its stdin. :meth:`WarmPytest.run` hands it the arguments, and it runs
``pytest/__main__.py`` exactly as ``python -m pytest`` does (``runpy``, the working
directory first on ``sys.path``), so the test runs against the repository's code as it is
then, with the same output and exit code. A runner is used once; one never used is killed
by :meth:`close` (it only imported pytest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

#: what the child runs: the imports first (the part taken off the caller's path), then one
#: line of arguments, then pytest as ``python -m pytest`` runs it. The modules are those a
#: run imports anyway (pytest's default plugins, and the standard modules they import
#: during its start): importing them earlier changes no result. One that fails to import
#: is left for pytest to fail on, at the time and in the way it would.
BOOTSTRAP = """\
import importlib, json, os, runpy, sys
sys.path[0] = os.getcwd()
import pytest
import _pytest.config
for name in (*("_pytest." + p for p in getattr(_pytest.config, "default_plugins", ())),
             "pdb", "tomllib", "sysconfig", "unittest", "xml.etree.ElementTree"):
    try:
        importlib.import_module(name)
    except Exception:
        pass
line = sys.stdin.readline()
if not line.strip():
    raise SystemExit(0)
sys.argv = ["pytest", *json.loads(line)]
runpy.run_module("pytest", run_name="__main__", alter_sys=True)
"""


def runs_tests(level: int) -> bool:
    """``test_creation`` runs a skeleton at trust ``level``: 1 (under .agentfs/tests/) and
    3 (in tests/); 0 only logs it, 2 asks a person first (nothing runs during the refresh)."""
    return level in (1, 3)


def pytest_env() -> dict[str, str]:
    """The generated test's environment: this one, with no plugin loaded automatically.
    The skeleton needs no plugin, and the plugins installed beside the hub are not the
    repository's (one that fails to import would fail every run)."""
    return {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


class WarmPytest:
    """One ``python -m pytest`` process for ``root``, started now, told what to run later."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.used = False
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP],
            cwd=root,
            env=pytest_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def available(self) -> bool:
        """Not used yet and not closed."""
        return self._proc is not None and not self.used

    def run(self, args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        """``python -m pytest *args`` in ``root``: what ``subprocess.run(..., capture_output
        =True, text=True, timeout=timeout_s)`` returns or raises for it (the time limit
        counts from now: the start before is the caller's head start)."""
        proc = self._proc
        if proc is None or self.used:
            raise RuntimeError("a warm pytest runs one test, once")
        self.used = True
        command = [sys.executable, "-m", "pytest", *args]
        try:
            out, err = proc.communicate(json.dumps(args) + "\n", timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(command, timeout_s, out, err) from exc
        finally:
            self._proc = None
        return subprocess.CompletedProcess(command, proc.returncode, out, err)

    def close(self) -> None:
        """End a runner that was never used (it holds nothing but its imports)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.kill()
        proc.communicate()
