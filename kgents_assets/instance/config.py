"""The dagster.yaml kgents writes into DAGSTER_HOME when there is none.

Written atomically, and a user's edits win: a file kgents wrote and nobody edited since
(byte for byte what an earlier release wrote) is brought up to this release's settings,
keeping its storage block; any other file is never touched. Without that, an install
made before a setting existed would never get it (the warm run launcher below halved the
sensor path). What it says:

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

import logging
import os
import re
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
# kgents updates this file to a new release's settings only while nobody has edited it:
# edit it freely (from then on it is yours), or delete it to have it written again.
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

#: The header releases before the upgrade rule wrote (it promised never to overwrite; an
#: untouched file is still the one kgents wrote, so updating it breaks no edit).
_EARLIER_HEADER = _HEADER.replace(
    "# kgents updates this file to a new release's settings only while nobody has edited it:\n"
    "# edit it freely (from then on it is yours), or delete it to have it written again.\n",
    "# kgents never overwrites this file: edit it freely, or delete it to have it written again.\n",
)
_WRITTEN_FOR = re.compile(r"\A# Written by kgents: (?P<home>.+) had no dagster\.yaml\.\n")
_WHERE = re.compile(r"^# \(kgents_assets/instance/storage\.py\):\n#   (?P<where>.+)$", re.M)

log = logging.getLogger(__name__)


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


def _queue(*, threads: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = {
        "max_concurrent_runs": MAX_CONCURRENT_RUNS,
        "dequeue_interval_seconds": DEQUEUE_INTERVAL_S,
    }
    if threads:
        config |= {"dequeue_use_threads": True, "dequeue_num_workers": MAX_CONCURRENT_RUNS}
    config["tag_concurrency_limits"] = [
        {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    return {"module": "dagster", "class": "QueuedRunCoordinator", "config": config}


_MONITORING = {"enabled": True, "start_timeout_seconds": RUN_START_TIMEOUT_S}
_THREADED_SENSORS = {"use_threads": True, "num_workers": 4}


def _settings() -> dict[str, Any]:
    """Everything but the storage block, in the file's order."""
    return {
        "run_coordinator": _queue(),
        "run_launcher": {"module": LAUNCHER_MODULE, "class": LAUNCHER_CLASS},
        "run_monitoring": _MONITORING,
    }


#: (header, settings besides storage) of what earlier releases wrote, oldest first: before
#: the warm launcher; the two releases whose sensors and queue ran in threads (the daemon
#: then stopped evaluating sensors under load); the warm launcher's release. A release
#: that changes ``_settings`` appends the pair it replaces.
_EARLIER: tuple[tuple[str, dict[str, Any]], ...] = (
    (_EARLIER_HEADER, {"run_coordinator": _queue(), "run_monitoring": _MONITORING}),
    (
        _EARLIER_HEADER,
        {
            "run_coordinator": _queue(threads=True),
            "sensors": _THREADED_SENSORS,
            "run_monitoring": _MONITORING,
        },
    ),
    (
        _EARLIER_HEADER,
        {"run_coordinator": _queue(), "sensors": _THREADED_SENSORS, "run_monitoring": _MONITORING},
    ),
    (_EARLIER_HEADER, _settings()),
)


def _file_text(header: str, home: str, where: str, config: dict[str, Any]) -> str:
    head = header.format(home=home, where=where, max_runs=MAX_CONCURRENT_RUNS)
    return head + str(yaml.safe_dump(config, sort_keys=False))


def render_config(dagster_home: Path, database_url: str | None) -> str:
    storage, where = _storage_block(database_url)
    return _file_text(_HEADER, str(dagster_home), where, {"storage": storage, **_settings()})


def _untouched_update(text: str) -> str | None:
    """This release's text for a file an earlier release wrote and nobody edited since,
    with the storage it names; None for anything else (a user's file, or up to date)."""
    written_for, where = _WRITTEN_FOR.match(text), _WHERE.search(text)
    if written_for is None or where is None:
        return None
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(parsed, dict) or "storage" not in parsed:
        return None
    home, said = written_for["home"], where["where"]
    storage = {"storage": parsed["storage"]}
    if not any(
        text == _file_text(header, home, said, {**storage, **settings})
        for header, settings in _EARLIER
    ):
        return None
    return _file_text(_HEADER, home, said, {**storage, **_settings()})


def ensure_instance_config(
    dagster_home: Path | None = None, database_url: str | None = None
) -> Path:
    """Write ``<dagster_home>/dagster.yaml`` unless it exists, or bring a file an earlier
    release wrote and nobody edited up to date; return its path.

    ``dagster_home`` defaults to ``$DAGSTER_HOME`` or ``$KGENTS_HOME/dagster``;
    ``database_url`` to ``$KGENTS_DATABASE_URL`` (unset: the embedded pgserver). An
    unreachable server raises ``DatabaseUnavailable`` and writes nothing.
    """
    directory = dagster_home if dagster_home is not None else home.dagster_home()
    path = directory / CONFIG_FILE
    if path.exists():
        updated = _untouched_update(path.read_text())
        if updated is not None:
            atomic_write_text(path, updated)
            # once per install; said because the file changed under the user's feet
            log.warning(
                "updated %s to this release's settings (kgents wrote it and it was not "
                "edited since; its storage is unchanged)",
                path,
            )
        return path
    url = database_url or os.environ.get(DATABASE_URL_ENV) or None
    text = render_config(directory, url)
    directory.mkdir(parents=True, exist_ok=True)
    # Two processes starting at once both render; the renames are atomic and the texts
    # equal, so either file is the file.
    atomic_write_text(path, text)
    return path
