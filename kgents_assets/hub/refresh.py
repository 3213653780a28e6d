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
    changed_paths: Sequence[str] | None = None,
    triage: TriageBackend | None = None,
    workers: int | None = None,
    run_id: str = "local",
) -> RefreshReport:
    files = refresh_files(store, root, changed_paths=changed_paths, workers=workers)
    states = refresh_states(store, triage=triage, run_id=run_id)
    markdown = refresh_markdown(store, root)
    return RefreshReport(files, states, markdown)
