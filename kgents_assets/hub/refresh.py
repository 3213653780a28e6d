"""The whole incremental refresh in one call, for callers outside Dagster (benchmarks,
tests, tools). Dagster runs the same three stages as three assets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kgents_assets.hub.refresh_files import FilesReport, refresh_files
from kgents_assets.hub.refresh_markdown import MarkdownReport, refresh_markdown
from kgents_assets.hub.refresh_states import StatesReport, refresh_states
from kgents_assets.hub.triage import TriageBackend
from kgents_assets.repos.registry import add_repository, find_repository
from kgents_assets.store import Store


@dataclass
class RefreshReport:
    files: FilesReport
    states: StatesReport
    markdown: MarkdownReport


def refresh_repository(
    store: Store,
    root: Path,
    *,
    repo: str,
    changed_paths: Sequence[str] | None = None,
    triage: TriageBackend | None = None,
    workers: int | None = None,
    run_id: str = "local",
) -> RefreshReport:
    """All three stages for ``repo`` (registered first, as a local checkout, if it is not)."""
    with store.connect() as conn:
        known = find_repository(conn, repo)
    if known is None:
        add_repository(store, repo, str(root))
    files = refresh_files(store, root, repo=repo, changed_paths=changed_paths, workers=workers)
    states = refresh_states(store, repo=repo, triage=triage, run_id=run_id)
    markdown = refresh_markdown(store, root, repo=repo)
    return RefreshReport(files, states, markdown)
