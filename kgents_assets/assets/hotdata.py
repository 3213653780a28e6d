"""Dagster wiring for HotData: one asset per registered fixture, its check, its automation.

Each fixture's TTL becomes a FreshnessPolicy (fail at the TTL, warn at 3/4 of it) and an
AutomationCondition requests a refresh as soon as the fixture warns, so in steady state a
fixture is regenerated before it ever goes stale; a failed refresh is retried when it
fails its policy. The automation sensor below is RUNNING by default.

Note: no ``from __future__ import annotations`` here: Dagster inspects the annotations of
asset functions (context and resource parameters) at definition time.
"""

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import dagster as dg

from kgents_assets.hotdata.catalog import load_specs
from kgents_assets.hotdata.errors import HotDataError
from kgents_assets.hotdata.models import record_count
from kgents_assets.hotdata.names import asset_key_parts
from kgents_assets.hotdata.spec import FixtureSpec
from resources.fixtures import FixturesResource
from resources.llm import LLMResource

GROUP = "hotdata"
WARN_FRACTION = 0.75
# Dagster evaluates freshness at minute granularity and rejects shorter windows.
MIN_WINDOW = timedelta(minutes=1)
PREVIEW_LINES = 40


def fixture_asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(asset_key_parts(name))


def freshness_policy_for(ttl: timedelta | None) -> dg.FreshnessPolicy | None:
    """None for fixtures that never go stale; else fail at the TTL, warn at 3/4 of it."""
    if ttl is None:
        return None
    fail = max(ttl, MIN_WINDOW * 2)
    warn = max(MIN_WINDOW, fail * WARN_FRACTION)
    return dg.FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)


def refresh_when_stale(ttl: timedelta | None) -> dg.AutomationCondition[Any]:
    """Materialize when never materialized, and (with a TTL) when freshness warns or fails.

    ``since_last_handled`` resets on the condition's first evaluation, so fixtures that
    are already missing then are requested by ``missing & initial_evaluation`` instead.
    ``newly_true`` on each freshness state means one request per transition: no request
    storm while the freshness daemon catches up after a run, and one retry (at FAIL) if
    the refresh requested at WARN failed.
    """
    missing = dg.AutomationCondition.missing()
    trigger: dg.AutomationCondition[Any] = missing.newly_true()
    if ttl is not None:
        trigger = (
            trigger
            | dg.AutomationCondition.freshness_warned().newly_true()
            | dg.AutomationCondition.freshness_failed().newly_true()
        )
    first_time = (missing & dg.AutomationCondition.initial_evaluation()).with_label(
        "missing_at_first_evaluation"
    )
    return (
        (first_time | trigger.since_last_handled().with_label("stale_since_last_handled"))
        & ~dg.AutomationCondition.in_progress()
    ).with_label("refresh_when_stale")


def _preview(data: bytes) -> str:
    lines = data.decode("utf-8", errors="replace").splitlines()
    more = f"\n... ({len(lines) - PREVIEW_LINES} more lines)" if len(lines) > PREVIEW_LINES else ""
    return "```json\n" + "\n".join(lines[:PREVIEW_LINES]) + more + "\n```"


def build_fixture_asset(spec: FixtureSpec) -> dg.AssetsDefinition:
    ttl_label = "forever" if spec.ttl is None else str(spec.ttl)

    @dg.asset(
        key=fixture_asset_key(spec.name),
        group_name=GROUP,
        kinds={"json"},
        description=spec.description or f"HotData fixture {spec.name}",
        freshness_policy=freshness_policy_for(spec.ttl),
        automation_condition=refresh_when_stale(spec.ttl),
        tags={"hotdata/kind": spec.kind},
        metadata={
            "fixture": spec.name,
            "ttl": ttl_label,
            "generator": spec.generator_name,
            "seed": spec.seed,
            "entropy": spec.entropy,
        },
    )
    def fixture(
        context: dg.AssetExecutionContext, fixtures: FixturesResource, llm: LLMResource
    ) -> dg.MaterializeResult[None]:
        registry = fixtures.registry(llm=llm.endpoint())
        # A materialization is a request to regenerate: always write, the lock keeps a
        # concurrent `kg fixture refresh` from tearing the file.
        outcome = asyncio.run(registry.refresh(spec.name, force=True))
        data = outcome.path.read_bytes()
        status = registry.get_status(spec.name)
        context.log.info("wrote %s (%d bytes)", outcome.path, len(data))
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(outcome.path)),
                "size": dg.MetadataValue.int(len(data)),
                "records": dg.MetadataValue.int(record_count(outcome.value)),
                "validation": dg.MetadataValue.text("passed"),
                "generator": dg.MetadataValue.text(status.generator),
                "sha256": dg.MetadataValue.text(hashlib.sha256(data).hexdigest()),
                "ttl": dg.MetadataValue.text(ttl_label),
                "preview": dg.MetadataValue.md(_preview(data)),
            },
            data_version=dg.DataVersion(hashlib.sha256(data).hexdigest()[:16]),
        )

    return fixture


def build_fixture_check(spec: FixtureSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=fixture_asset_key(spec.name),
        name="fixture_validates",
        description=f"{spec.name} exists and validates against its schema.",
    )
    def fixture_validates(fixtures: FixturesResource) -> dg.AssetCheckResult:
        hotdata = fixtures.registry().get(spec.name)
        try:
            value = hotdata.load()
        except HotDataError as exc:
            issues = getattr(exc, "issues", [])
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=str(exc).splitlines()[0],
                metadata={
                    "path": dg.MetadataValue.path(str(hotdata.path)),
                    "issues": dg.MetadataValue.json([str(i) for i in issues[:50]]),
                },
            )
        return dg.AssetCheckResult(
            passed=True,
            metadata={
                "path": dg.MetadataValue.path(str(hotdata.path)),
                "records": dg.MetadataValue.int(record_count(value)),
                "stale": dg.MetadataValue.bool(hotdata.is_stale()),
            },
        )

    return fixture_validates


def build_hotdata_defs(specs: list[FixtureSpec]) -> dg.Definitions:
    assets = [build_fixture_asset(spec) for spec in specs]
    checks = [build_fixture_check(spec) for spec in specs]
    automation = dg.AutomationConditionSensorDefinition(
        "hotdata_automation",
        target=dg.AssetSelection.groups(GROUP),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Refreshes HotData fixtures when they are missing or their freshness warns.",
    )
    refresh_all = dg.define_asset_job(
        "hotdata_refresh_all",
        selection=dg.AssetSelection.groups(GROUP),
        description="Regenerate every HotData fixture.",
    )
    return dg.Definitions(
        assets=assets, asset_checks=checks, sensors=[automation], jobs=[refresh_all]
    )


defs = build_hotdata_defs(load_specs())
