"""Dagster wiring: real materializations on a real instance, freshness and automation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

from kgents_assets.assets.hotdata import (
    build_hotdata_defs,
    defs,
    fixture_asset_key,
    freshness_policy_for,
)
from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from resources.fixtures import FixturesResource
from resources.llm import LLMResource

SPECS = {spec.name: spec for spec in BUILTIN_SPECS}


def resources_for(root: Path) -> dict[str, object]:
    return {"fixtures": FixturesResource(path=str(root)), "llm": LLMResource()}


def bound(root: Path) -> dg.Definitions:
    """``defs`` with the resources definitions.py binds (defs itself has none)."""
    return dg.Definitions.merge(defs, dg.Definitions(resources=resources_for(root)))


def assets_and_checks(definitions: dg.Definitions) -> list[object]:
    return [*(definitions.assets or []), *(definitions.asset_checks or [])]


def test_one_asset_per_fixture_in_group_hotdata(tmp_path: Path) -> None:
    graph = bound(tmp_path).resolve_asset_graph()
    keys = {node.key for node in graph.asset_nodes}
    assert keys == {fixture_asset_key(name) for name in SPECS}
    for node in graph.asset_nodes:
        assert node.group_name == "hotdata"
        assert "dagster/kind/json" in node.tags
        assert node.automation_condition is not None
        assert node.automation_condition.get_label() == "refresh_when_stale"
    check_keys = {key.asset_key for key in graph.asset_check_keys}
    assert check_keys == keys


def test_freshness_policy_is_derived_from_the_ttl(tmp_path: Path) -> None:
    graph = bound(tmp_path).resolve_asset_graph()
    for name, spec in SPECS.items():
        policy = graph.get(fixture_asset_key(name)).freshness_policy
        if spec.ttl is None:
            assert policy is None, name
            continue
        assert isinstance(policy, dg.FreshnessPolicy)
        assert policy.fail_window.to_timedelta() == spec.ttl  # type: ignore[attr-defined]
        assert policy.warn_window.to_timedelta() == spec.ttl * 0.75  # type: ignore[attr-defined]
    # Dagster rejects windows under a minute; tiny TTLs are clamped, not crashed on.
    tiny = freshness_policy_for(timedelta(seconds=5))
    assert tiny is not None and tiny.fail_window.to_timedelta() == timedelta(minutes=2)  # type: ignore[attr-defined]


def test_the_automation_sensor_runs_by_default() -> None:
    [sensor] = [s for s in defs.sensors or [] if s.name == "hotdata_automation"]
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert not defs.resources  # bound once, in definitions.py


@pytest.mark.slow
def test_materialization_writes_the_fixture_with_metadata(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    key = fixture_asset_key("flux_states/demo")
    result = dg.materialize(
        assets_and_checks(defs),  # type: ignore[arg-type]
        selection=dg.AssetSelection.assets(key),
        instance=instance,
        resources=resources_for(tmp_path),
    )
    assert result.success
    path = tmp_path / "flux_states" / "demo.json"
    data = json.loads(path.read_text())
    assert data["grid_width"] == 8

    [mat] = result.asset_materializations_for_node("hotdata__flux_states__demo")
    meta = mat.metadata
    assert meta["path"].value == str(path)
    assert meta["size"].value == path.stat().st_size
    assert meta["records"].value == len(data["agents"])
    assert meta["validation"].value == "passed"
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.asset_key == key

    record = instance.get_latest_materialization_event(key)
    assert record is not None and record.asset_materialization is not None

    # A hand edit that breaks the schema: the check fails and says where.
    data["agents"][data["focused_id"]]["phase"] = "SLEEPY"
    path.write_text(json.dumps(data))
    checks_only = dg.materialize(
        assets_and_checks(defs),  # type: ignore[arg-type]
        selection=dg.AssetSelection.checks_for_assets(key),
        instance=instance,
        resources=resources_for(tmp_path),
    )
    [failed] = checks_only.get_asset_check_evaluations()
    assert not failed.passed
    issues = failed.metadata["issues"].value
    assert issues == [
        f"agents.{data['focused_id']}.phase: Input should be 'ACTIVE', "
        "'WAKING', 'WANING', 'DORMANT' or 'VOID' (got 'SLEEPY')"
    ]


@pytest.mark.slow
def test_a_failing_generator_fails_the_run_and_keeps_the_file(tmp_path: Path) -> None:
    from kgents_assets.hotdata.spec import FixtureSpec

    spec = FixtureSpec(
        "test/no_such_generator", SPECS["test/agent_snapshot"].schema, generator="nonexistent"
    )
    local = build_hotdata_defs([spec])
    target = tmp_path / "test" / "no_such_generator.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"id": "k", "name": "K", "phase": "ACTIVE"}')
    result = dg.materialize(
        assets_and_checks(local),  # type: ignore[arg-type]
        selection=dg.AssetSelection.assets(fixture_asset_key(spec.name)),
        instance=dg.DagsterInstance.ephemeral(),
        resources=resources_for(tmp_path),
        raise_on_error=False,
    )
    assert not result.success
    assert target.read_text() == '{"id": "k", "name": "K", "phase": "ACTIVE"}'


@pytest.mark.slow
def test_automation_refreshes_missing_then_warned_fixtures(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assets = bound(tmp_path)
    demo = fixture_asset_key("garden_states/main")
    forever = fixture_asset_key("test/agent_snapshot")

    first = dg.evaluate_automation_conditions(defs=assets, instance=instance)
    assert first.get_num_requested(demo) == 1  # never materialized: requested
    assert first.get_num_requested(forever) == 1

    dg.materialize(
        assets_and_checks(defs),
        selection=[demo, forever],  # type: ignore[arg-type]
        instance=instance,
        resources=resources_for(tmp_path),
    )
    second = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=first.cursor)
    assert second.get_num_requested(demo) == 0
    assert second.get_num_requested(forever) == 0

    # What the freshness daemon records once 3/4 of the TTL has passed.
    instance._report_runless_asset_event(
        FreshnessStateChange(
            key=demo,
            new_state=FreshnessState.WARN,
            previous_state=FreshnessState.PASS,
            state_change_timestamp=0.0,
        )
    )
    third = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=second.cursor)
    assert third.get_num_requested(demo) == 1
    assert third.get_num_requested(forever) == 0
    fourth = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=third.cursor)
    assert fourth.get_num_requested(demo) == 0  # requested once, not on every tick
