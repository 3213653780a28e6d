"""The dagster.yaml kgents writes into DAGSTER_HOME when there is none.

Written once, atomically, and never overwritten: a user's edits win. What it says:

- **Storage** (runs, event log, schedules): dagster-postgres, through
  ``KgentsPostgresStorage`` (``storage.py`` says why not dagster-postgres's own block), on
  the store's server. With ``KGENTS_DATABASE_URL`` the file refers to that variable
  (``{env: KGENTS_DATABASE_URL}``), so no password ever lands on disk, and names the
  database chosen for Dagster (``server.py``: ``{store db}_dagster`` when it exists or the
  role may create it, else the store's own database). Without a URL it names the embedded
  pgserver's data directory and its database ``dagster``.
- **Run queue**: ``QueuedRunCoordinator``. At most 4 runs at once (2 cores here; each run
  is a process parsing code), and at most one per ``dagster/partition`` value, so two runs
  of one repository never overlap while different repositories run side by side. The
  queue is read every second, not every 5: a file-change sensor's latency is the sum of
  the sensor interval and this one.
- **Sensors in the daemon's own loop, not in threads**: ``sensors.use_threads`` would
  start each sensor's tick on time however slow the others, but with it the file-change
  and git sensors of this code location stopped being evaluated after a few runs on a
  loaded machine (their earlier evaluation never returned), and the queue's
  ``dequeue_use_threads`` never launched a queued run in the two-process test. Both stay
  off until that is understood.
- **Run launcher**: ``WarmRunLauncher`` (``warm_launcher.py``): Dagster's default
  launcher, except that a run starts as a fork of a worker that has already imported the
  code location, not as a fresh interpreter importing it (6 s of a save's 13 s on the
  sensor path); anything it cannot serve goes to the code server as before.
- **Run monitoring** on: a run whose worker never started (a killed ``dagster dev``, a
  crashed code server) is failed after 3 minutes instead of holding its repository's
  queue slot forever.
- **Telemetry** is Dagster's default; the file shows how to turn it off.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no type stubs
from psycopg.conninfo import conninfo_to_dict

from kgents_assets import home
from kgents_assets.fs.atomic import atomic_write_text
from kgents_assets.instance.server import EMBEDDED_DAGSTER_DATABASE, choose_database
from kgents_assets.store.database import DATABASE_URL_ENV

CONFIG_FILE = "dagster.yaml"
STORAGE_MODULE = "kgents_assets.instance.storage"
STORAGE_CLASS = "KgentsPostgresStorage"
PARTITION_TAG = "dagster/partition"
MAX_CONCURRENT_RUNS = 4
DEQUEUE_INTERVAL_S = 1
RUN_START_TIMEOUT_S = 180
LAUNCHER_MODULE = "kgents_assets.instance.warm_launcher"
LAUNCHER_CLASS = "WarmRunLauncher"

_HEADER = """\
# Written by kgents: {home} had no dagster.yaml.
# kgents never overwrites this file: edit it freely, or delete it to have it written again.
#
# Runs, event log and schedules: dagster-postgres on the kgents store's server
# (kgents_assets/instance/storage.py):
#   {where}
# One run per repository at a time (tag dagster/partition), at most {max_runs} in all.
#
# Dagster sends anonymous usage statistics by default; to opt out, add:
#   telemetry:
#     enabled: false
"""


def _storage_block(database_url: str | None) -> tuple[dict[str, Any], str]:
    if database_url is None:
        pg_dir = home.embedded_store_dir().resolve()
        config: dict[str, Any] = {
            "embedded_dir": str(pg_dir),
            "database": EMBEDDED_DAGSTER_DATABASE,
        }
        where = f"the embedded server under {pg_dir}, database {EMBEDDED_DAGSTER_DATABASE!r}"
    else:
        database = choose_database(database_url)
        config = {"database_url": _url_reference(database_url), "database": database}
        where = f"the server of ${DATABASE_URL_ENV}, database {database!r}"
    block = {"custom": {"module": STORAGE_MODULE, "class": STORAGE_CLASS, "config": config}}
    return block, where


def _url_reference(database_url: str) -> str | dict[str, str]:
    """How the file names the server: the environment variable whenever it holds this URL
    (so the file follows it and keeps no secret); the URL itself only if it has none."""
    if os.environ.get(DATABASE_URL_ENV) == database_url:
        return {"env": DATABASE_URL_ENV}
    if conninfo_to_dict(database_url).get("password"):
        raise ValueError(
            f"a database URL with a password must come from ${DATABASE_URL_ENV}, so that "
            "dagster.yaml can refer to it without storing the password"
        )
    return database_url


def render_config(dagster_home: Path, database_url: str | None) -> str:
    storage, where = _storage_block(database_url)
    config = {
        "storage": storage,
        "run_coordinator": {
            "module": "dagster",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": MAX_CONCURRENT_RUNS,
                "dequeue_interval_seconds": DEQUEUE_INTERVAL_S,
                "tag_concurrency_limits": [
                    {
                        "key": PARTITION_TAG,
                        "value": {"applyLimitPerUniqueValue": True},
                        "limit": 1,
                    }
                ],
            },
        },
        "run_launcher": {"module": LAUNCHER_MODULE, "class": LAUNCHER_CLASS},
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": RUN_START_TIMEOUT_S,
        },
    }
    header = _HEADER.format(home=dagster_home, where=where, max_runs=MAX_CONCURRENT_RUNS)
    return header + str(yaml.safe_dump(config, sort_keys=False))


def ensure_instance_config(
    dagster_home: Path | None = None, database_url: str | None = None
) -> Path:
    """Write ``<dagster_home>/dagster.yaml`` unless it exists; return its path.

    ``dagster_home`` defaults to ``$DAGSTER_HOME`` or ``$KGENTS_HOME/dagster``;
    ``database_url`` to ``$KGENTS_DATABASE_URL`` (unset: the embedded pgserver). An
    unreachable server raises ``DatabaseUnavailable`` and writes nothing.
    """
    directory = dagster_home if dagster_home is not None else home.dagster_home()
    path = directory / CONFIG_FILE
    if path.exists():
        return path
    url = database_url or os.environ.get(DATABASE_URL_ENV) or None
    text = render_config(directory, url)
    directory.mkdir(parents=True, exist_ok=True)
    # Two processes starting at once both render; the renames are atomic and the texts
    # equal, so either file is the file.
    atomic_write_text(path, text)
    return path
