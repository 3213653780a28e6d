"""The code location: every domain's assets, checks, sensors and jobs, plus resources.

Repositories are partitions of the code assets (``kgents_assets.assets.partitions``); no
repository is baked in here, so one code location serves every repository of the store.
"""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from kgents_assets.assets import catalog, code, hotdata, hub_demos
from resources import default_resources
from sensors import dagster_sensors

MAIN_JOB = "materialize_all"

materialize_all = define_asset_job(
    MAIN_JOB,
    selection=AssetSelection.all(),
    description="Materialize every asset for one repository (the README's main job): its "
    "code model and catalog partition, and the HotData fixtures.",
)


def build_defs() -> Definitions:
    """The whole code location."""
    return Definitions.merge(
        code.defs,
        hotdata.defs,
        catalog.defs,
        hub_demos.defs,
        dagster_sensors.defs,
        # Steps are short and sequential; a subprocess per step would cost ~5 s each.
        Definitions(
            jobs=[materialize_all], resources=default_resources(), executor=in_process_executor
        ),
    )


defs = build_defs()
