"""The code-node assets: code_nodes -> node_state -> node_markdown.

Unpartitioned on purpose: each materialization is incremental inside (see DESIGN.md §2),
taking a change set from run config when a sensor already knows what changed.
"""

from datetime import timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
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

from kgents_assets.hub import dirty
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.refresh_markdown import refresh_markdown
from kgents_assets.hub.refresh_states import refresh_states
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
    """``changed_paths`` (repo-relative) skips the scan; empty means detect changes."""

    changed_paths: list[str] = []
    full_scan: bool = False


def _listing(items: dict[str, str]) -> str:
    if not items:
        return "none"
    rows = [f"| `{p}` | {why} |" for p, why in sorted(items.items())[:MAX_LISTED]]
    more = len(items) - MAX_LISTED
    return "\n".join(
        ["| file | problem |", "|---|---|", *rows] + ([f"\n…and {more} more"] if more > 0 else [])
    )


@asset(
    group_name=GROUP,
    kinds={"python", "postgres"},
    owners=OWNERS,
    freshness_policy=CODE_FRESHNESS,
    description="Every module, class, function and method of the repository, discovered "
    "with tree-sitter; re-parses only files whose content changed.",
)
def code_nodes(
    context: AssetExecutionContext,
    config: CodeScanConfig,
    repo: RepoResource,
    store: StoreResource,
) -> MaterializeResult[None]:
    root = repo.root()
    changed = None if config.full_scan or not config.changed_paths else config.changed_paths
    report = refresh_files(store.open(repo.agentfs()), root, changed_paths=changed)
    context.log.info(
        f"scanned {report.files_scanned} files, parsed {report.files_parsed}, "
        f"nodes +{report.nodes_added} ~{report.nodes_changed} -{report.nodes_removed}"
    )
    for path, problem in sorted(report.problems.items()):
        context.log.warning(f"{path}: {problem}")
    return MaterializeResult(
        metadata={
            "repository": str(root),
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
            "parse_errors": report.parse_errors,
            "skipped_files": len(report.problems),
            "problems": MetadataValue.md(_listing(report.problems)),
            "changed_paths": MetadataValue.json(report.changed_paths[:MAX_LISTED]),
            "duration_s": round(report.duration_s, 3),
        }
    )


@asset(
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    deps=[code_nodes],
    freshness_policy=CODE_FRESHNESS,
    description="Per-node state (signature, complexity, callers/callees, related tests, "
    "summary) in KV node:{id}:state, re-derived only for nodes that changed.",
)
def node_state(
    context: AssetExecutionContext,
    repo: RepoResource,
    store: StoreResource,
    triage: TriageResource,
    llm: LLMResource,
) -> MaterializeResult[None]:
    backend = triage.get_backend(llm)
    report = refresh_states(store.open(repo.agentfs()), triage=backend, run_id=context.run.run_id)
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
    freshness_policy=CODE_FRESHNESS,
    description="One markdown file per node under .agentfs/nodes/, mirroring the repo.",
)
def node_markdown(
    context: AssetExecutionContext, repo: RepoResource, store: StoreResource
) -> MaterializeResult[None]:
    root = repo.root()
    report = refresh_markdown(store.open(repo.agentfs()), root)
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
    description="Files that could not be modelled: binary, "
    "invalid UTF-8, too large, unreadable, or parsed with syntax errors.",
)
def every_source_file_parsed(
    context: AssetCheckExecutionContext, repo: RepoResource, store: StoreResource
) -> AssetCheckResult:
    with store.open(repo.agentfs()).connect() as conn:
        rows = conn.execute(
            "SELECT path, status, coalesce(error, '') FROM hub_files "
            "WHERE status NOT IN ('ok', 'empty') ORDER BY path"
        ).fetchall()
    problems = {path: f"{status}: {error}" for path, status, error in rows}
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
    description="Every indexed node has a state, no state is "
    "orphaned, and no work is left pending.",
)
def states_match_nodes(
    context: AssetCheckExecutionContext, repo: RepoResource, store: StoreResource
) -> AssetCheckResult:
    with store.open(repo.agentfs()).connect() as conn:
        missing, orphaned, pending = conn.execute(
            "SELECT "
            " (SELECT count(*) FROM hub_nodes n WHERE NOT EXISTS "
            "   (SELECT 1 FROM kv WHERE kv.key = 'node:' || n.node_id || ':state')),"
            " (SELECT count(*) FROM kv WHERE kv.key LIKE 'node:%%:state' AND NOT EXISTS "
            "   (SELECT 1 FROM hub_nodes n WHERE kv.key = 'node:' || n.node_id || ':state')),"
            " (SELECT count(*) FROM hub_dirty WHERE stage = %s)",
            (dirty.STATE,),
        ).fetchone() or (0, 0, 0)
    return AssetCheckResult(
        passed=missing == 0 and orphaned == 0 and pending == 0,
        metadata={"nodes_without_state": missing, "orphaned_states": orphaned, "pending": pending},
    )


@asset_check(
    asset=node_markdown,
    description="The markdown files on disk are exactly the "
    "ones the node states name, and none is waiting to be written.",
)
def markdown_in_sync(
    context: AssetCheckExecutionContext, repo: RepoResource, store: StoreResource
) -> AssetCheckResult:
    root = repo.root()
    with store.open(repo.agentfs()).connect() as conn:
        expected = {
            r[0]
            for r in conn.execute(
                "SELECT value->>'markdown_path' FROM kv WHERE key LIKE 'node:%%:state'"
            )
        }
        pending = conn.execute(
            "SELECT count(*) FROM hub_dirty WHERE stage = %s", (dirty.MARKDOWN,)
        ).fetchone()
    nodes_dir = root / NODES_DIR
    on_disk = (
        {p.relative_to(root).as_posix() for p in nodes_dir.rglob("*.md")}
        if nodes_dir.is_dir()
        else set()
    )
    missing, stray = expected - on_disk, on_disk - expected
    return AssetCheckResult(
        passed=not missing and not stray and not (pending and pending[0]),
        metadata={
            "expected": len(expected),
            "missing": len(missing),
            "stray": len(stray),
            "pending": pending[0] if pending else 0,
            "examples": MetadataValue.json(sorted(missing | stray)[:10]),
        },
    )


code_refresh_job = define_asset_job(
    "code_refresh_job",
    selection=AssetSelection.assets(code_nodes).downstream(),
    description="Incremental refresh of the code model; sensors pass the change set.",
)

defs = Definitions(
    assets=[code_nodes, node_state, node_markdown],
    asset_checks=[every_source_file_parsed, states_match_nodes, markdown_in_sync],
    jobs=[code_refresh_job],
)
