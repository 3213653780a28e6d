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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: imported only where a model is called (rich: httpx's CLI, which imports it)
NOT_AT_LOAD = ("httpx", "rich")


def run_in_new_interpreter(code: str) -> Any:
    """What ``code`` printed last, as JSON, run by a new interpreter on this checkout."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tempfile.gettempdir(),  # this checkout via PYTHONPATH, not the current directory
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loading_the_code_location_imports_no_model_client() -> None:
    code = (
        "import json, sys\n"
        "import kgents_assets.definitions as d\n"
        "job = d.defs.resolve_job_def('code_refresh_job')\n"
        f"print(json.dumps({{'loaded': [m for m in {NOT_AT_LOAD!r} if m in sys.modules],"
        " 'executor': job.executor_def.name}))\n"
    )
    found = run_in_new_interpreter(code)
    assert found["loaded"] == [], f"imported at load time: {found['loaded']}"
    # one process for the whole run: a process per step would import all of this again
    assert found["executor"] == "in_process"


def test_loading_the_code_location_warns_of_nothing_in_its_own_code() -> None:
    """A deprecation Dagster prints at load time is an API the next Dagster removes: the
    code location would then fail to load in every run process and in ``dagster dev``."""
    code = (
        "import json, warnings\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    import kgents_assets.definitions as d\n"
        "jobs = {j: str(d.defs.resolve_job_def(j).partitions_def)\n"
        "        for j in ('materialize_all', 'code_refresh_job')}\n"
        f"own = [f'{{w.filename}}:{{w.lineno}}: {{w.message}}' for w in seen\n"
        f"       if w.filename.startswith({str(ROOT)!r}) and '.venv' not in w.filename]\n"
        "print(json.dumps({'warnings': own, 'jobs': jobs}))\n"
    )
    found = run_in_new_interpreter(code)
    assert found["warnings"] == []
    # the jobs' partitions come from their assets: one repository per run
    assert found["jobs"] == {
        "materialize_all": 'Dynamic partitions: "repositories"',
        "code_refresh_job": 'Dynamic partitions: "repositories"',
    }
