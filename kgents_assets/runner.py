"""Running the code location's jobs in-process against a real Dagster instance.

``kg hub`` and the watch daemon use this, so their runs land in the same instance as
``dagster dev`` and the sensors': one history, one lineage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult

from kgents_assets.definitions import MAIN_JOB, build_defs

CODE_JOB = "code_refresh_job"


def code_run_config(
    changed_paths: Sequence[str] | None, log_level: str | None = None
) -> dict[str, Any]:
    """Run config passing a change set; ``log_level`` quiets Dagster's console logger."""
    paths = list(changed_paths or [])
    config: dict[str, Any] = {
        "ops": {"code_nodes": {"config": {"changed_paths": paths, "full_scan": False}}}
    }
    if log_level:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    return config


def materialize_code(
    repo_root: Path,
    changed_paths: Sequence[str] | None,
    *,
    instance: DagsterInstance,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = True,
    log_level: str | None = None,
) -> ExecuteInProcessResult:
    """The incremental code refresh; ``changed_paths`` None detects changes itself."""
    job = build_defs(str(repo_root)).resolve_job_def(CODE_JOB)
    return job.execute_in_process(
        run_config=code_run_config(changed_paths, log_level),
        instance=instance,
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
    )


def materialize_everything(
    repo_root: Path,
    *,
    instance: DagsterInstance,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = False,
    run_id: str | None = None,
    log_level: str | None = None,
) -> ExecuteInProcessResult:
    """The README's main job: every asset of the code location, for one repository."""
    job = build_defs(str(repo_root)).resolve_job_def(MAIN_JOB)
    return job.execute_in_process(
        run_config=code_run_config(None, log_level),
        instance=instance,
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
        run_id=run_id,
    )


def step_count(repo_root: Path, job_name: str = MAIN_JOB) -> int:
    """How many steps (assets and checks) a run of the job executes: the progress total."""
    job = build_defs(str(repo_root)).resolve_job_def(job_name)
    return len(job.asset_layer.asset_graph.get_all_asset_keys()) + len(
        list(job.asset_layer.asset_graph.asset_check_keys)
    )
