"""``python -m kgents_assets.instance``: write dagster.yaml if missing, print DAGSTER_HOME.

For a first ``dagster dev`` before any ``kg`` command: Dagster itself would fall back to
SQLite in an empty DAGSTER_HOME. ``DAGSTER_HOME=$(uv run python -m kgents_assets.instance)
uv run dagster dev -w workspace.yaml`` always gets the shared Postgres instance.
"""

from __future__ import annotations

import sys

from kgents_assets.instance.config import ensure_instance_config
from kgents_assets.store import DatabaseUnavailable


def main() -> int:
    try:
        path = ensure_instance_config()
    except (DatabaseUnavailable, ValueError) as exc:
        print(f"cannot write the Dagster instance config: {exc}", file=sys.stderr)
        return 1
    print(path.parent.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
