"""The one way every process gets the Dagster instance: ``kg``, the watch daemon, the
gateway and the tests all call ``get_instance``, so they share one dagster.yaml and one
instance with ``dagster dev``, the daemon and the run workers."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance

from kgents_assets import home
from kgents_assets.instance.config import ensure_instance_config


def get_instance(dagster_home: Path | None = None) -> DagsterInstance:
    """The instance in ``dagster_home`` (default ``$DAGSTER_HOME`` or ``$KGENTS_HOME/dagster``),
    its dagster.yaml written first if missing. The caller disposes it (or uses ``with``).

    ``from_config`` rather than ``DagsterInstance.get()``: the directory is explicit, so a
    caller may point at another home without touching ``$DAGSTER_HOME``.
    """
    directory = dagster_home if dagster_home is not None else home.dagster_home()
    ensure_instance_config(directory)
    return DagsterInstance.from_config(str(directory))
