"""Dagster wiring of the hub's demos (domain logic in kgents_assets/hub/): ``api_impact``
follows ``node_state`` in each repository's partition, so every code refresh that
changes a public signature, removes or renames a public symbol writes its impact summary
under ``.agentfs/impact/`` in the same run.

Not merged into definitions.py here: the code location's owner adds ``hub_demos.defs``.
No ``from __future__ import annotations``: Dagster reads the context annotation.
"""

from dagster import AssetExecutionContext, Definitions, MaterializeResult, MetadataValue, asset

from kgents_assets.assets.code import GROUP, OWNERS, node_state
from kgents_assets.assets.partitions import REPOSITORIES
from kgents_assets.hub.impact import detect_and_summarize
from resources.repo import RepoResource
from resources.store import StoreResource


@asset(
    group_name=GROUP,
    kinds={"python", "markdown"},
    owners=OWNERS,
    deps=[node_state],
    partitions_def=REPOSITORIES,
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


defs = Definitions(assets=[api_impact])
