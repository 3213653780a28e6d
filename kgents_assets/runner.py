"""Running the code location's jobs in-process against a real Dagster instance.

``kg hub`` and the watch daemon use this, so their runs land in the same instance as
``dagster dev`` and the sensors': one history, one lineage. Every run is one repository's
partition; the partition is added to the instance first (idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagster import DagsterInstance, ExecuteInProcessResult

from kgents_assets.assets.code import CODE_JOB, code_run_config
from kgents_assets.assets.partitions import ensure_partition
from kgents_assets.definitions import MAIN_JOB, defs


def materialize_code(
    repo: str,
    changed_paths: Sequence[str] | None,
    *,
    instance: DagsterInstance,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = True,
    log_level: str | None = None,
    git_sha: str | None = None,
) -> ExecuteInProcessResult:
    """The incremental code refresh of ``repo``; ``changed_paths`` None detects changes."""
    ensure_partition(instance, repo)
    return defs.resolve_job_def(CODE_JOB).execute_in_process(
        run_config=code_run_config(changed_paths, git_sha=git_sha, log_level=log_level),
        instance=instance,
        partition_key=repo,
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
    )


def materialize_everything(
    repo: str,
    *,
    instance: DagsterInstance,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = False,
    run_id: str | None = None,
    log_level: str | None = None,
) -> ExecuteInProcessResult:
    """The README's main job: every asset of the code location, for one repository."""
    ensure_partition(instance, repo)
    return defs.resolve_job_def(MAIN_JOB).execute_in_process(
        run_config=code_run_config(None, log_level=log_level),
        instance=instance,
        partition_key=repo,
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
        run_id=run_id,
    )


def step_count(job_name: str = MAIN_JOB) -> int:
    """How many steps (assets and checks) a run of the job executes: the progress total."""
    job = defs.resolve_job_def(job_name)
    return len(job.asset_layer.asset_graph.get_all_asset_keys()) + len(
        list(job.asset_layer.asset_graph.asset_check_keys)
    )
