"""The code-node assets: code_nodes -> node_state -> node_markdown, one partition per
repository.

Each materialization of a partition is incremental inside (see DESIGN.md §2), taking a
change set (or a commit) from run config when a sensor already knows what changed.

No ``from __future__ import annotations`` here: Dagster reads the Config annotation.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetObservation,
    AssetRecordsFilter,
    AssetSelection,
    Config,
    Definitions,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    define_asset_job,
)

from kgents_assets.assets.partitions import REPOSITORIES
from kgents_assets.hub import dirty
from kgents_assets.hub.integrity import (
    expected_markdown,
    files_with_problems,
    markdown_on_disk,
    state_consistency,
)
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.refresh_markdown import refresh_markdown
from kgents_assets.hub.refresh_states import refresh_states
from kgents_assets.repos.registry import record_refresh
from resources.llm import LLMResource
from resources.repo import RepoResource
from resources.store import StoreResource
from resources.triage import TriageResource

OWNERS = ["team:kgents"]
GROUP = "code"
#: Sensors keep these fresh within seconds; a day without a refresh means they stopped.
CODE_FRESHNESS = FreshnessPolicy.time_window(
    fail_window=timedelta(hours=24), warn_window=timedelta(hours=6)
)
MAX_LISTED = 50


class CodeScanConfig(Config):
    """``changed_paths`` (repo-relative) skips the scan; empty means detect changes.
    ``git_sha``: the commit a git repository is checked out at (None: its branch tip).
    ``skip_when_unchanged``: when the scan changed nothing and no stage has work left, the
    downstream steps (and their checks) are skipped; False always runs them (a caller that
    knows something else changed, e.g. a refreshed fixture the catalog reads)."""

    changed_paths: list[str] = []
    full_scan: bool = False
    git_sha: str | None = None
    skip_when_unchanged: bool = True


CODE_JOB = "code_refresh_job"


def code_run_config(
    changed_paths: Sequence[str] | None = None,
    *,
    git_sha: str | None = None,
    log_level: str | None = None,
    skip_when_unchanged: bool = True,
) -> dict[str, Any]:
    """Run config of a code refresh: a change set, a commit, a quieter console logger."""
    config: dict[str, Any] = {
        "ops": {
            "code_nodes": {
                "config": {
                    "changed_paths": list(changed_paths or []),
                    "full_scan": False,
                    "git_sha": git_sha,
                    "skip_when_unchanged": skip_when_unchanged,
                }
            }
        }
    }
    if log_level:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    return config


def _listing(items: dict[str, str]) -> str:
    if not items:
        return "none"
    rows = [f"| `{p}` | {why} |" for p, why in sorted(items.items())[:MAX_LISTED]]
    more = len(items) - MAX_LISTED
    return "\n".join(
        ["| file | problem |", "|---|---|", *rows] + ([f"\n…and {more} more"] if more > 0 else [])
    )


def _nothing_to_do(context: AssetExecutionContext, opened: Any, name: str) -> bool:
    """No stage has marks left and every downstream asset of this run has materialized
    this partition before (a first run, or one after a failure, always runs them)."""
    with opened.connect() as conn:
        if any(
            dirty.pending_count(conn, name, stage)
            for stage in (dirty.STATE, dirty.MARKDOWN, dirty.CATALOG)
        ):
            return False
    graph = context.job_def.asset_layer.asset_graph
    own = context.asset_key
    downstream = [k for k in graph.get_all_asset_keys() if k != own and k.path[0] in _GATED]
    return all(
        context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[name]), limit=1
        ).records
        for key in downstream
    )


#: The assets that run only when code_nodes materializes (its downstream in the job).
_GATED = ("node_state", "node_markdown", "catalog_embeddings")


@asset(
    group_name=GROUP,
    kinds={"python", "postgres"},
    owners=OWNERS,
    partitions_def=REPOSITORIES,
    freshness_policy=CODE_FRESHNESS,
    output_required=False,
    description="Every module, class, function and method of the repository, discovered "
    "with tree-sitter; re-parses only files whose content changed. A git repository is "
    "fetched and checked out by the run itself. When nothing changed and no stage has "
    "work left, it records an observation instead and the downstream steps are skipped.",
)
def code_nodes(
    context: AssetExecutionContext,
    config: CodeScanConfig,
    repo: RepoResource,
    store: StoreResource,
) -> Iterator[MaterializeResult[None]]:
    name = context.partition_key
    opened = store.open()
    repository = repo.repository(opened, name)
    tree = repo.checkout(repository, config.git_sha)
    changed = None if config.full_scan or not config.changed_paths else config.changed_paths
    report = refresh_files(opened, tree.root, repo=name, changed_paths=changed)
    with opened.transaction() as conn:
        record_refresh(conn, name, run_id=context.run.run_id, sha=tree.sha, at=datetime.now(UTC))
    context.log.info(
        f"{name}: scanned {report.files_scanned} files, parsed {report.files_parsed}, "
        f"nodes +{report.nodes_added} ~{report.nodes_changed} -{report.nodes_removed}"
    )
    for path, problem in sorted(report.problems.items()):
        context.log.warning(f"{path}: {problem}")
    metadata: dict[str, Any] = {
        "repository": name,
        "checkout": str(tree.root),
        "commit": tree.sha or "",
        "mode": "change set" if changed is not None else "scan",
        "files_scanned": report.files_scanned,
        "files_changed": report.files_parsed,
        "files_added": report.files_added,
        "files_deleted": report.files_deleted,
        "files_touched": report.files_touched,
        "nodes_added": report.nodes_added,
        "nodes_changed": report.nodes_changed,
        "nodes_removed": report.nodes_removed,
        "nodes_marked": report.nodes_marked,
        "markdown_missing": report.markdown_missing,
        "parse_errors": report.parse_errors,
        "skipped_files": len(report.problems),
        "problems": MetadataValue.md(_listing(report.problems)),
        "changed_paths": MetadataValue.json(report.changed_paths[:MAX_LISTED]),
        "duration_s": round(report.duration_s, 3),
    }
    unchanged = not (
        report.files_parsed
        or report.files_added
        or report.files_deleted
        or report.nodes_added
        or report.nodes_changed
        or report.nodes_removed
        or report.nodes_marked
    )
    if config.skip_when_unchanged and unchanged and _nothing_to_do(context, opened, name):
        context.log.info(f"{name}: nothing changed; skipping the steps downstream")
        context.log_event(
            AssetObservation(
                asset_key=context.asset_key,
                partition=name,
                metadata={**metadata, "outcome": "nothing changed, downstream skipped"},
            )
        )
        return
    yield MaterializeResult(metadata=metadata)


@asset(
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    deps=[code_nodes],
    partitions_def=REPOSITORIES,
    freshness_policy=CODE_FRESHNESS,
    description="Per-node state (signature, complexity, callers/callees, related tests, "
    "summary) in KV node:{id}:state, re-derived only for nodes that changed.",
)
def node_state(
    context: AssetExecutionContext,
    store: StoreResource,
    triage: TriageResource,
    llm: LLMResource,
) -> MaterializeResult[None]:
    backend = triage.get_backend(llm)
    report = refresh_states(
        store.open(), repo=context.partition_key, triage=backend, run_id=context.run.run_id
    )
    context.log.info(
        f"processed {report.nodes_processed} nodes: +{report.states_added} "
        f"~{report.states_changed} -{report.states_removed}"
    )
    return MaterializeResult(
        metadata={
            "triage_backend": backend.name,
            "nodes_processed": report.nodes_processed,
            "states_added": report.states_added,
            "states_changed": report.states_changed,
            "states_removed": report.states_removed,
            "states_unchanged": report.states_unchanged,
            "edges_written": report.edges_written,
            "decisions": report.decisions,
            "decisions_deferred": report.deferred,
            "duration_s": round(report.duration_s, 3),
        }
    )


@asset(
    group_name=GROUP,
    kinds={"markdown"},
    owners=OWNERS,
    deps=[node_state],
    partitions_def=REPOSITORIES,
    freshness_policy=CODE_FRESHNESS,
    description="One markdown file per node under .agentfs/nodes/, mirroring the repo.",
)
def node_markdown(
    context: AssetExecutionContext, repo: RepoResource, store: StoreResource
) -> MaterializeResult[None]:
    opened = store.open()
    root = repo.root(repo.repository(opened, context.partition_key))
    report = refresh_markdown(opened, root, repo=context.partition_key)
    context.log.info(f"markdown: {report.written} written, {report.removed} removed")
    return MaterializeResult(
        metadata={
            "written": report.written,
            "removed": report.removed,
            "nodes_dir": str(root / NODES_DIR),
            "sample_paths": MetadataValue.json(report.sample_paths),
            "preview": MetadataValue.md(report.preview or "_nothing changed_"),
            "duration_s": round(report.duration_s, 3),
        }
    )


@asset_check(
    asset=code_nodes,
    partitions_def=REPOSITORIES,
    # after the stages the markdown waits for, among steps ready at once
    op_tags={"dagster/priority": "-1"},
    description="Files that could not be modelled: binary, "
    "invalid UTF-8, too large, unreadable, or parsed with syntax errors.",
)
def every_source_file_parsed(
    context: AssetCheckExecutionContext, store: StoreResource
) -> AssetCheckResult:
    with store.open().connect() as conn:
        problems = files_with_problems(conn, context.partition_key)
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "files_with_problems": len(problems),
            "files": MetadataValue.md(_listing(problems)),
        },
    )


@asset_check(
    asset=node_state,
    partitions_def=REPOSITORIES,
    # after the stages the markdown waits for, among steps ready at once
    op_tags={"dagster/priority": "-1"},
    description="Every indexed node has a state, no state is "
    "orphaned, and no work is left pending.",
)
def states_match_nodes(
    context: AssetCheckExecutionContext, store: StoreResource
) -> AssetCheckResult:
    with store.open().connect() as conn:
        found = state_consistency(conn, context.partition_key)
    return AssetCheckResult(
        passed=found.ok,
        metadata={
            "nodes_without_state": found.nodes_without_state,
            "orphaned_states": found.orphaned_states,
            "pending": found.pending,
        },
    )


@asset_check(
    asset=node_markdown,
    partitions_def=REPOSITORIES,
    description="The markdown files on disk are exactly the "
    "ones the node states name, and none is waiting to be written.",
)
def markdown_in_sync(
    context: AssetCheckExecutionContext, repo: RepoResource, store: StoreResource
) -> AssetCheckResult:
    name = context.partition_key
    opened = store.open()
    root = repo.root(repo.repository(opened, name))
    with opened.connect() as conn:
        expected = expected_markdown(conn, name)
        pending = dirty.pending_count(conn, name, dirty.MARKDOWN)
    nodes_dir = root / NODES_DIR
    on_disk = markdown_on_disk(root, nodes_dir)
    missing, stray = expected - on_disk, on_disk - expected
    return AssetCheckResult(
        passed=not missing and not stray and not pending,
        metadata={
            "expected": len(expected),
            "missing": len(missing),
            "stray": len(stray),
            "pending": pending,
            "examples": MetadataValue.json(sorted(missing | stray)[:10]),
        },
    )


code_refresh_job = define_asset_job(
    CODE_JOB,
    selection=AssetSelection.assets(code_nodes).downstream(),
    description="Incremental refresh of one repository's code model; sensors pass the "
    "change set (or the commit of a git repository).",
)

defs = Definitions(
    assets=[code_nodes, node_state, node_markdown],
    asset_checks=[every_source_file_parsed, states_match_nodes, markdown_in_sync],
    jobs=[code_refresh_job],
)
