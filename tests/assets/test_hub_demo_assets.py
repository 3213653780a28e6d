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


GEOMETRY = "def area(w, h):\n    return w * h\n"
GEOMETRY_TESTS = (
    "from calc.geometry import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"
)


def _sensor_run(instance: DagsterInstance, cursor: str | None) -> tuple[dict[str, Any], str]:
    """Evaluate the file-change sensor and run what it requests through the code location's
    ``code_refresh_job``: the path a change takes under the Dagster daemon."""
    from dagster import SensorResult, build_sensor_context

    from kgents_assets.definitions import defs
    from resources.store import StoreResource
    from sensors import dagster_sensors

    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"store": StoreResource()}
    )
    result = dagster_sensors.code_file_change_sensor(context)
    assert isinstance(result, SensorResult), result
    (request,) = result.run_requests or []
    assert request.job_name in (None, "code_refresh_job")
    ensure_partition(instance, str(request.partition_key))
    run = defs.resolve_job_def("code_refresh_job").execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags,
        partition_key=request.partition_key,
    )  # fmt: skip
    assert run.success
    for event in run.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == "test_skeletons":
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}, str(result.cursor)
    raise AssertionError("the sensor's run did not materialize test_skeletons")


def _rendered(store: Store, node_id: str) -> str:
    """The markdown any renderer writes for the node now (the gateway's too)."""
    from kgents_assets.hub.generated_tests import last_generated_tests
    from kgents_assets.hub.markdown import render_markdown
    from kgents_assets.hub.state_store import load_state

    with store.connect() as conn:
        state = load_state(conn, node_id)
        assert state is not None
        return render_markdown(state, last_generated_tests(conn, [node_id]).get(node_id))


@pytest.mark.slow
def test_the_file_sensor_run_writes_and_runs_a_test_for_a_new_function(
    store: Store,
    instance: DagsterInstance,
    repo: Callable[[Files], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kgents_assets.store.database import DATABASE_URL_ENV
    from kgents_assets.trust import TRUST_ENV

    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    monkeypatch.setenv(TRUST_ENV, "3")
    root = repo({
        "calc/__init__.py": "",
        "calc/geometry.py": GEOMETRY + "\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n",
        "tests/test_geometry.py": GEOMETRY_TESTS,
    })  # fmt: skip
    add_repository(store, "calc", str(root))

    # A cold build records the baseline: perimeter has no test, but it was not new.
    first, cursor = _sensor_run(instance, None)
    assert first["baseline"] is True and first["created"] == 0
    assert not (root / "tests/test_calc_geometry_perimeter.py").exists()

    geometry = root / "calc/geometry.py"
    geometry.write_text(geometry.read_text() + "\n\ndef volume(w, h, d):\n    return w * h * d\n")
    second, cursor = _sensor_run(instance, cursor)
    assert second["baseline"] is False and second["new_or_changed"] == 1
    assert (second["created"], second["ran"], second["passed"], second["failed"]) == (1, 1, 1, 0)
    assert second["awaiting_approval"] == 0
    assert "tests/test_calc_geometry_volume.py" in second["paths"]
    written = (root / "tests/test_calc_geometry_volume.py").read_text()
    assert "from calc.geometry import volume" in written
    assert not (root / "tests/test_calc_geometry_perimeter.py").exists()  # not new
    with store.connect() as conn:
        (node_id, log) = conn.execute(
            "SELECT node_id, log FROM hub_test_runs WHERE outcome = 'passed'"
        ).fetchone()
        (trace_log,) = conn.execute(
            "SELECT decisions->0->>'log' FROM hub_traces WHERE backend = 'test_creation'"
        ).fetchone()
    assert "1 passed" in log and "1 passed" in trace_log
    markdown_path = root / ".agentfs/nodes/calc/geometry.py/volume.md"
    markdown = markdown_path.read_text()
    assert "- test: `tests/test_calc_geometry_volume.py::test_volume`" in markdown
    assert "- last result: **passed** (exit 0" in markdown
    assert markdown == _rendered(store, node_id)

    # The sensor sees the test file the hub wrote; its refresh re-renders volume (it has a
    # related test now) and the section stays, byte for byte what a render gives.
    third, _ = _sensor_run(instance, cursor)
    assert third["created"] == 0 and third["new_or_changed"] == 0
    again = markdown_path.read_text()
    assert "tests/test_calc_geometry_volume.py::test_volume" in again.split("## Related tests")[1]
    assert "- last result: **passed** (exit 0" in again
    assert again == _rendered(store, node_id)
