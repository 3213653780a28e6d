"""The Dagster instance every kgents process shares: dagster-postgres storage on the store's
server, a run queue with one run per repository at a time, runs started by forking a warm
worker that loaded the code location once (``warm_launcher``), written into DAGSTER_HOME
once."""

from kgents_assets.instance.config import ensure_instance_config
from kgents_assets.instance.loader import get_instance

__all__ = ["ensure_instance_config", "get_instance"]
