"""Three repositories refreshed through the Dagster daemon: in parallel (the run queue's
default, up to 4 runs, one per repository) against one after another (a queue of one), in
one run of this script, on one store and one Dagster instance per mode.

Each repository is a real PyPI sdist registered as a partition. Three cold runs of
``code_refresh_job`` are queued with ``dagster job launch`` while the daemon is stopped;
then ``dagster-daemon run`` starts and the clock runs until the last run ends. Wall clock
is that, per mode; the runs' own start/end times show how much they overlapped.

    uv run python bench/repos_parallel_bench.py

The location (``bench/_repos_location.py``) carries the code assets and no sensors, so
nothing but the three queued runs competes for the queue.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import fetch_sdist

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CORPUS = (("rich", "13.9.4"), ("flask", "3.1.0"), ("httpx", "0.28.1"))


def _prepare(home: Path, max_runs: int) -> dict[str, str]:
    env = {**os.environ, "KGENTS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("KGENTS_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "kgents_assets.instance"], env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    config_path = home / "dagster" / "dagster.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["run_coordinator"]["config"]["max_concurrent_runs"] = max_runs
    config_path.write_text(yaml.safe_dump(config))
    (home / "workspace.yaml").write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "python_file": {
                            "relative_path": str(HERE / "_repos_location.py"),
                            "location_name": "bench",
                        }
                    }
                ]
            }
        )
    )
    for name, version in CORPUS:
        root = home / "src" / name
        shutil.copytree(fetch_sdist(name, version), root)
        out = subprocess.run(
            [str(BIN / "kg"), "repo", "add", name, str(root)], env=env, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(out.stderr)
    return env


def _launch(env: dict[str, str], home: Path) -> list[str]:
    run_ids = []
    for name, _ in CORPUS:
        run_id = str(uuid.uuid4())
        out = subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-w", str(home / "workspace.yaml"),
             "-j", "code_refresh_job", "--run-id", run_id,
             "--tags", json.dumps({"dagster/partition": name})],
            env=env, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        run_ids.append(run_id)
    return run_ids


def _measure(env: dict[str, str], home: Path, run_ids: list[str]) -> dict[str, object]:
    from dagster import DagsterInstance, DagsterRunStatus

    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(home / "workspace.yaml")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    started = time.time()
    os.environ.update({k: env[k] for k in ("KGENTS_HOME", "DAGSTER_HOME")})
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    try:
        while True:
            runs = [instance.get_run_by_id(r) for r in run_ids]
            if all(r is not None and r.is_finished for r in runs):
                break
            if time.time() - started > 1800:
                raise SystemExit("runs did not finish within 30 minutes")
            time.sleep(0.5)
        wall = max(instance.get_run_stats(r).end_time or 0 for r in run_ids) - started
        spans = [
            (instance.get_run_stats(r).start_time or 0, instance.get_run_stats(r).end_time or 0)
            for r in run_ids
        ]
        failed = [r.run_id for r in runs if r and r.status != DagsterRunStatus.SUCCESS]
    finally:
        daemon.terminate()
        daemon.wait(30)
        instance.dispose()
    return {"wall": wall, "spans": spans, "failed": failed}


def main() -> None:
    results = {}
    for label, max_runs in (("one after another", 1), ("in parallel", 4)):
        with tempfile.TemporaryDirectory(prefix="kgents-par-") as tmp:
            home = Path(tmp)
            env = _prepare(home, max_runs)
            run_ids = _launch(env, home)
            results[label] = _measure(env, home, run_ids)
            subprocess.run(
                [sys.executable, "-c", "import sys; from pgserver._commands import pg_ctl; "
                 "pg_ctl(['-w','-m','fast','stop'], pgdata=sys.argv[1], user='pgserver')",
                 str(home / "pg")], check=False, capture_output=True,
            )  # fmt: skip
    print(
        "three repositories (" + ", ".join(f"{n} {v}" for n, v in CORPUS) + "), cold, "
        "code_refresh_job through dagster-daemon; nproc =",
        os.cpu_count(),
    )
    for label, r in results.items():
        spans = r["spans"]
        run_sum = sum(e - s for s, e in spans)  # type: ignore[union-attr]
        print(
            f"  {label:<18} wall {r['wall']:6.1f} s  (sum of run durations {run_sum:6.1f} s)"
            + (f"  FAILED: {r['failed']}" if r["failed"] else "")
        )
    seq, par = results["one after another"]["wall"], results["in parallel"]["wall"]
    print(f"  ratio sequential / parallel = {seq / par:.2f}")  # type: ignore[operator]
    if any(r["failed"] for r in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
