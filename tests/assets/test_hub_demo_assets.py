"""``api_impact`` as a real Dagster run after code_nodes -> node_state: the first run
records the baseline, removing a called public function writes its impact summary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, instance_for_test, materialize

from kgents_assets.assets.code import code_nodes, code_run_config, node_state
from kgents_assets.assets.hub_demos import api_impact
from kgents_assets.assets.partitions import ensure_partition
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from resources import LLMResource, RepoResource, StoreResource, TriageResource
from tests.repo_helpers import Files

FILES: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": "def price(item):\n    return item.cost\n\n\ndef rate():\n    return 1\n",
    "shop/cart.py": "from shop.pricing import price\n\n\ndef total(items):\n"
    "    return sum(price(i) for i in items)\n",
}


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


def run(store: Store, instance: DagsterInstance) -> dict[str, Any]:
    result = materialize(
        [code_nodes, node_state, api_impact],
        partition_key="shop",
        instance=instance,
        run_config=code_run_config(None),
        resources={
            "repo": RepoResource(), "store": StoreResource(database_url=store.url),
            "triage": TriageResource(), "llm": LLMResource(),
        },
    )  # fmt: skip
    assert result.success
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == "api_impact":
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise AssertionError("api_impact was not materialized")


@pytest.mark.slow
def test_api_impact_follows_node_state(
    store: Store, instance: DagsterInstance, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    add_repository(store, "shop", str(root))
    ensure_partition(instance, "shop")
    first = run(store, instance)
    assert first["baseline"] is True and first["api_changes"] == 0

    pricing = root / "shop/pricing.py"
    pricing.write_text(pricing.read_text().replace("def price(item):\n    return item.cost\n", ""))
    second = run(store, instance)
    assert second["baseline"] is False and second["api_changes"] == 1
    assert second["broken_callsites"] == 1
    assert "shop.pricing.price was removed" in second["summaries"]
    assert (root / ".agentfs/impact/shop/pricing.py/price.md").is_file()
