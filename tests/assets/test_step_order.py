"""The README's job hands a user the markdown before the (slow) catalog: a real run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, instance_for_test

from kgents_assets.repos.registry import add_repository
from kgents_assets.runner import materialize_everything
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "order"
FILES: Files = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def a():\n    return b()\n\n\ndef b():\n    return 1\n",
}


@pytest.fixture
def instance(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> Iterator[DagsterInstance]:
    Store(url=database_url).migrate()
    monkeypatch.setenv("KGENTS_DATABASE_URL", database_url)
    monkeypatch.setenv("KGENTS_FIXTURES_DIR", str(tmp_path / "fixtures"))
    with instance_for_test() as inst:
        yield inst


@pytest.mark.slow
def test_node_markdown_succeeds_before_the_catalog_and_the_demos_start(
    instance: DagsterInstance, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    add_repository(Store(url=os.environ["KGENTS_DATABASE_URL"]), REPO, str(root))
    result = materialize_everything(REPO, instance=instance)
    assert result.success
    wanted = (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS)
    events = [
        (entry.dagster_event.event_type, entry.dagster_event.step_key)
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event is not None and entry.dagster_event.event_type in wanted
    ]
    successes = [k for t, k in events if t == DagsterEventType.STEP_SUCCESS]
    assert "node_markdown" in successes and "catalog_embeddings" in successes
    assert successes.index("node_markdown") < successes.index("catalog_embeddings")
    # not only finished first: the catalog had not started while the markdown was written
    markdown_done = events.index((DagsterEventType.STEP_SUCCESS, "node_markdown"))
    # nor had the other steps ready at the same time as the markdown (the demos' assets)
    # ... nor the code assets' checks, which nothing on the way to the markdown needs
    for later in (
        "catalog_embeddings",
        "api_impact",
        "test_skeletons",
        "code_nodes_every_source_file_parsed",
        "node_state_states_match_nodes",
    ):
        assert events.index((DagsterEventType.STEP_START, later)) > markdown_done, later
    assert (root / ".agentfs/nodes/pkg/core.py/a.md").is_file()
