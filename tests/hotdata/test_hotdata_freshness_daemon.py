"""End to end: Dagster's own freshness daemon marks an aged fixture WARN/FAIL from the
policy derived from its TTL, and the automation condition then requests its refresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.test_utils import (
    create_test_daemon_workspace_context,
    freeze_time,
    instance_for_test,
)
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.freshness import FreshnessDaemon
from dagster._time import get_current_datetime

from kgents_assets.assets.hotdata import defs, fixture_asset_key
from resources.fixtures import FixturesResource
from resources.llm import LLMResource

HERE = Path(__file__).parent
GARDEN = fixture_asset_key("garden_states/main")  # TTL 1 day: warn at 18 h, fail at 24 h
FOREVER = fixture_asset_key("test/agent_snapshot")  # no TTL: no policy


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    monkeypatch.setenv("KGENTS_FIXTURES_DIR", str(tmp_path / "fixtures"))
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as inst:
        yield inst


def freshness_of(instance: dg.DagsterInstance, key: dg.AssetKey) -> FreshnessState | None:
    record = instance.get_freshness_state_records([key]).get(key)
    return record.freshness_state if record else None


@pytest.mark.slow
def test_daemon_and_automation_refresh_an_aging_fixture(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    resources = {
        "fixtures": FixturesResource(path=str(tmp_path / "fixtures")),
        "llm": LLMResource(),
    }
    bound = dg.Definitions.merge(defs, dg.Definitions(resources=resources))
    result = dg.materialize(
        [*(defs.assets or []), *(defs.asset_checks or [])],  # type: ignore[list-item]
        selection=[GARDEN, FOREVER],
        instance=instance,
        resources=resources,
    )
    assert result.success
    start = get_current_datetime()
    target = ModuleTarget(
        module_name="hotdata_code_location",
        attribute="defs",
        working_directory=str(HERE),
        location_name="hotdata",
    )

    def tick(hours: float) -> None:
        with freeze_time(start + timedelta(hours=hours)):
            list(FreshnessDaemon().run_iteration(context))

    with create_test_daemon_workspace_context(target, instance) as context:
        tick(1)
        assert freshness_of(instance, GARDEN) == FreshnessState.PASS
        assert freshness_of(instance, FOREVER) == FreshnessState.NOT_APPLICABLE
        first = dg.evaluate_automation_conditions(
            defs=bound, instance=instance, evaluation_time=start + timedelta(hours=1)
        )
        assert first.get_num_requested(GARDEN) == 0

        tick(19)  # past 3/4 of the TTL
        assert freshness_of(instance, GARDEN) == FreshnessState.WARN
        second = dg.evaluate_automation_conditions(
            defs=bound,
            instance=instance,
            cursor=first.cursor,
            evaluation_time=start + timedelta(hours=19),
        )
        assert second.get_num_requested(GARDEN) == 1
        assert second.get_num_requested(FOREVER) == 0

        tick(25)  # past the TTL: the fixture is failing its policy (STALE in `kg`)
        assert freshness_of(instance, GARDEN) == FreshnessState.FAIL
