"""Code location for the sensor benchmark: the project's definitions plus the sensors.

(Once kgents_assets/definitions.py merges ``sensors.dagster_sensors.defs`` itself, this
file is the same as loading that module.)
"""

from dagster import Definitions

from kgents_assets.definitions import build_defs
from sensors import dagster_sensors

_base = build_defs()
_names = {s.name for s in _base.sensors or []}
defs = (
    _base if "code_file_change_sensor" in _names else Definitions.merge(_base, dagster_sensors.defs)
)
