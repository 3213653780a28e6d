"""Code location for the sensor benchmark: the project's definitions plus the sensors.

(Once kgents_assets/definitions.py merges ``sensors.dagster_sensors.defs`` itself, this
is the same as loading that module.)
"""

from dagster import Definitions

from kgents_assets.definitions import build_defs
from sensors import dagster_sensors


def _location() -> Definitions:
    base = build_defs()
    if "code_file_change_sensor" in {s.name for s in base.sensors or []}:
        return base
    return Definitions.merge(base, dagster_sensors.defs)


defs = _location()
