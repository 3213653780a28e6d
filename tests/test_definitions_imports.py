"""What a run process pays before its run starts: the code location it imports.

Every run of the sensor path is a new process (Dagster's gRPC code server spawns it) that
imports ``kgents_assets.definitions`` before the run's first event. Libraries only some
runs use (an HTTP client for a model endpoint, and the CLI toolkit it drags in) are
imported where they are used, not at load time (click is Dagster's own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: imported only where a model is called (rich: httpx's CLI, which imports it)
NOT_AT_LOAD = ("httpx", "rich")


def test_loading_the_code_location_imports_no_model_client() -> None:
    code = (
        "import json, sys\n"
        "import kgents_assets.definitions as d\n"
        "job = d.defs.resolve_job_def('code_refresh_job')\n"
        f"print(json.dumps({{'loaded': [m for m in {NOT_AT_LOAD!r} if m in sys.modules],"
        " 'executor': job.executor_def.name}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tempfile.gettempdir(),  # this checkout via PYTHONPATH, not the current directory
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["loaded"] == [], f"imported at load time: {found['loaded']}"
    # one process for the whole run: a process per step would import all of this again
    assert found["executor"] == "in_process"


def test_loading_the_code_location_warns_of_nothing_in_its_own_code() -> None:
    """A deprecation Dagster prints at load time is an API the next Dagster removes: the
    code location would then fail to load in every run process and in ``dagster dev``."""
    code = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    import kgents_assets.definitions as d\n"
        "jobs = {j: str(d.defs.resolve_job_def(j).partitions_def)\n"
        "        for j in ('materialize_all', 'code_refresh_job')}\n"
        f"own = [f'{{w.filename}}:{{w.lineno}}: {{w.message}}' for w in seen\n"
        f"       if w.filename.startswith({str(ROOT)!r}) and '.venv' not in w.filename]\n"
        "print(json.dumps({'warnings': own, 'jobs': jobs}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["warnings"] == []
    # the jobs' partitions come from their assets: one repository per run
    assert found["jobs"] == {
        "materialize_all": 'Dynamic partitions: "repositories"',
        "code_refresh_job": 'Dynamic partitions: "repositories"',
    }
