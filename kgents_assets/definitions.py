"""The code location: every domain's assets, checks, sensors and jobs, plus resources."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from kgents_assets.assets import catalog, code, hotdata
from resources import default_resources
from resources.repo import RepoResource
from sensors import dagster_sensors

MAIN_JOB = "materialize_all"

materialize_all = define_asset_job(
    MAIN_JOB,
    selection=AssetSelection.all(),
    description="Materialize every asset for the repository (the README's main job).",
)


def build_defs(repo_path: str | None = None) -> Definitions:
    """The whole code location; ``repo_path`` pins the repository (else $KGENTS_REPO/cwd)."""
    resources = {**default_resources(), "repo": RepoResource(path=repo_path)}
    return Definitions.merge(
        code.defs,
        hotdata.defs,
        catalog.defs,
        dagster_sensors.defs,
        # Steps are short and sequential; a subprocess per step would cost ~5 s each.
        Definitions(jobs=[materialize_all], resources=resources, executor=in_process_executor),
    )


defs = build_defs()
