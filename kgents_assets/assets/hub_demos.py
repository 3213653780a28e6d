"""Dagster wiring of the hub's demos (domain logic in kgents_assets/hub/). Both assets
follow ``node_state`` in each repository's partition, so the code refresh that changes a
function (the file sensor's run, ``kg hub --once``) runs them too:

- ``api_impact``: each public signature changed, symbol removed or renamed gets its impact
  summary under ``.agentfs/impact/``;
- ``test_skeletons``: each public function new or changed since the previous run without a
  matching test gets a skeleton, written and run where its trust level allows.

No ``from __future__ import annotations``: Dagster reads the context annotation.
"""

from dagster import (
    AssetExecutionContext,
    Config,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from kgents_assets.assets.code import GROUP, OWNERS, node_state
from kgents_assets.assets.partitions import REPOSITORIES
from kgents_assets.hub.impact import detect_and_summarize
from kgents_assets.hub.test_creation import create_tests_for_changes
from kgents_assets.trust import default_trust_for, parse_trust_level, trust_from_env
from resources.repo import RepoResource
from resources.store import StoreResource


@asset(
    group_name=GROUP,
    kinds={"python", "markdown"},
    owners=OWNERS,
    deps=[node_state],
    partitions_def=REPOSITORIES,
    # after node_markdown among the steps ready at once (as the catalog): markdown first
    op_tags={"dagster/priority": "-1"},
    description="API change impact summaries: each public symbol removed, renamed or "
    "re-signed since the last run, with every callsite (file:line, confidence), the tests "
    "to run and the modules exporting it; JSON + markdown under .agentfs/impact/.",
)
def api_impact(
    context: AssetExecutionContext, repo: RepoResource, store: StoreResource
) -> MaterializeResult[None]:
    name = context.partition_key
    opened = store.open()
    root = repo.root(repo.repository(opened, name))
    with opened.transaction() as conn:
        baseline, summaries = detect_and_summarize(conn, name, root)
    for summary in summaries:
        context.log.info(f"{summary.description}: {len(summary.callsites)} callsites")
    listing = "\n".join(
        f"- {s.description}: {len(s.callsites)} callsites, {len(s.tests)} tests (`{s.artifact}`)"
        for s in summaries
    )
    return MaterializeResult(
        metadata={
            "repository": name,
            "baseline": baseline,
            "api_changes": len(summaries),
            "broken_callsites": sum(
                len(s.callsites) for s in summaries if s.change in ("removed", "renamed")
            ),
            "summaries": MetadataValue.md(listing or "no public API change"),
        }
    )


class TestSkeletonsConfig(Config):
    """``trust_level``: 0-3 or a name; unset means ``$KGENTS_TRUST_LEVEL``, else 1 for a
    local checkout and 0 (observe) for a repository added by git URL."""

    trust_level: str | None = None


@asset(
    group_name=GROUP,
    kinds={"python"},
    owners=OWNERS,
    deps=[node_state],
    partitions_def=REPOSITORIES,
    # after node_markdown among the steps ready at once (as the catalog): markdown first
    op_tags={"dagster/priority": "-1"},
    description="Test creation: each public function new or changed since the previous run "
    "with no matching test gets a runnable skeleton, run alone (its log in the trace "
    "store); trust 1 keeps it under .agentfs/tests/, 2 asks a person first, 3 writes it "
    "into tests/. The first run of a repository records the baseline only.",
)
def test_skeletons(
    context: AssetExecutionContext,
    config: TestSkeletonsConfig,
    repo: RepoResource,
    store: StoreResource,
) -> MaterializeResult[None]:
    name = context.partition_key
    opened = store.open()
    repository = repo.repository(opened, name)
    level = (
        parse_trust_level(config.trust_level)
        if config.trust_level is not None
        else trust_from_env(default_trust_for(repository.source))
    )
    root = repo.root(repository)
    report = create_tests_for_changes(opened, name, root, level)
    for run in report.runs:
        context.log.info(f"{run.node_id}: {run.outcome} {run.pytest_id or run.test_path or ''}")
    summary = report.summary()
    paths = summary.pop("paths")
    return MaterializeResult(
        metadata={
            "repository": name,
            **summary,
            "paths": MetadataValue.md("\n".join(f"- `{p}`" for p in paths) or "no test written"),
        }
    )


defs = Definitions(assets=[api_impact, test_skeletons])
