"""Running the code location's jobs in-process against a real Dagster instance.

``kg hub`` and the watch daemon use this, so their runs land in the same instance as
``dagster dev`` and the sensors': one history, one lineage. Every run is one repository's
partition; the partition is added to the instance first (idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from kgents_assets.assets.code import CODE_JOB, code_run_config
from kgents_assets.assets.partitions import ensure_partition
from kgents_assets.definitions import MAIN_JOB, defs
from kgents_assets.hotdata.catalog import load_specs
from kgents_assets.hotdata.paths import default_fixtures_dir
from kgents_assets.hotdata.registry import FixtureState, HotDataRegistry


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


#: The first part of every HotData fixture's asset key (kgents_assets.hotdata.names).
FIXTURE_PREFIX = "hotdata"


def fresh_fixtures() -> dict[str, AssetKey]:
    """HotData fixtures whose file is within its TTL, by name: nothing to regenerate.

    Read from the fixtures directory the code location's resource uses (one stat each).
    """
    from kgents_assets.assets.hotdata import fixture_asset_key

    fixtures = (defs.resources or {}).get("fixtures")
    root = default_fixtures_dir(getattr(fixtures, "path", None))
    registry = HotDataRegistry(root, load_specs())
    return {
        status.name: fixture_asset_key(status.name)
        for status in registry.statuses()
        if status.state == FixtureState.FRESH
    }


@dataclass(frozen=True)
class RunSelection:
    keys: list[AssetKey]
    steps: int  # assets and checks: the progress total
    partial: bool  # something is left out (else the run is the whole job)


def run_selection(skip: Sequence[AssetKey] = (), job_name: str = MAIN_JOB) -> RunSelection:
    """The assets (and their checks) a run of the job executes when ``skip`` is left out:
    resolved once, for the run and for its progress total."""
    graph = defs.resolve_job_def(job_name).asset_layer.asset_graph
    left_out = set(skip)
    keys = sorted(set(graph.get_all_asset_keys()) - left_out)
    checks = sum(1 for check in graph.asset_check_keys if check.asset_key not in left_out)
    return RunSelection(keys=keys, steps=len(keys) + checks, partial=bool(left_out))


def materialize_everything(
    repo: str,
    *,
    instance: DagsterInstance,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = False,
    run_id: str | None = None,
    log_level: str | None = None,
    skip: Sequence[AssetKey] = (),
    selection: RunSelection | None = None,
) -> ExecuteInProcessResult:
    """The README's main job: every asset of the code location, for one repository.

    ``skip``: assets left out of the run (fresh fixtures); their checks go with them
    (``selection``: the same, already resolved by ``run_selection``). When no fixture is
    refreshed something may have changed that the catalog reads, so the code assets run
    even if the scan finds nothing new.
    """
    ensure_partition(instance, repo)
    chosen = selection if selection is not None else run_selection(skip)
    fixtures_refreshed = any(k.path[0] == FIXTURE_PREFIX for k in chosen.keys)
    return defs.resolve_job_def(MAIN_JOB).execute_in_process(
        run_config=code_run_config(
            None, log_level=log_level, skip_when_unchanged=not fixtures_refreshed
        ),
        instance=instance,
        partition_key=repo,
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
        run_id=run_id,
        asset_selection=chosen.keys if chosen.partial else None,
    )


def step_count(job_name: str = MAIN_JOB, skip: Sequence[AssetKey] = ()) -> int:
    """How many steps (assets and checks) a run of the job executes: the progress total."""
    return run_selection(skip, job_name).steps
