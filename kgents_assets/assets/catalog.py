"""The L-gent catalog asset: one entry + vector per code node and fixture spec.

Incremental inside: it consumes the ``catalog`` marks the ``node_state`` asset leaves in
``hub_dirty`` and re-embeds only entries whose text changed. Its code version is the
embedder's id and dimension, so switching ``$KGENTS_EMBEDDER`` marks it stale and the next
materialization re-embeds everything (the sync notices the change by itself too).

No ``from __future__ import annotations`` here: Dagster reads the Config annotation.
"""

import os
import time
from datetime import timedelta

import dagster as dg

from kgents_assets.assets.hotdata import fixture_asset_key
from kgents_assets.assets.partitions import REPOSITORIES
from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import DEFAULT_SPEC, EMBEDDER_ENV
from kgents_assets.catalog.embedders.registry import parse_spec
from kgents_assets.catalog.errors import EmbedderUnavailable
from kgents_assets.catalog.fixtures import fixture_entries
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hotdata.catalog import load_specs
from resources.embedder import EmbedderResource
from resources.store import StoreResource

GROUP = "catalog"
OWNERS = ["team:kgents"]
CATALOG_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=24), warn_window=timedelta(hours=6)
)
PROGRESS_STEPS = 10  # log lines per embedding pass


def embedder_code_version(spec: str | None = None) -> str:
    """The code version for a spec, computed without loading any model."""
    raw = spec or os.environ.get(EMBEDDER_ENV) or DEFAULT_SPEC
    try:
        return parse_spec(raw).code_version
    except EmbedderUnavailable:
        return f"invalid:{raw}"  # the run itself then fails with the reason


class CatalogConfig(dg.Config):
    full_reconcile: bool = False  # compare every node state with every entry


@dg.asset(
    key="catalog_embeddings",
    group_name=GROUP,
    kinds={"postgres", "pgvector"},
    owners=OWNERS,
    deps=[dg.AssetKey("node_state"), *(fixture_asset_key(s.name) for s in load_specs())],
    code_version=embedder_code_version(),
    freshness_policy=CATALOG_FRESHNESS,
    partitions_def=REPOSITORIES,
    # Among steps ready at once the executor runs the higher dagster/priority first (ties:
    # by step key, and "catalog_..." < "node_markdown"). The catalog is the slow step and
    # the markdown does not wait for it, so the markdown goes first: a user reads it
    # seconds after the scan. A priority rather than a deps edge: the lineage stays true
    # and a failed markdown step does not hold the catalog back.
    op_tags={"dagster/priority": "-1"},
    # a new embedder re-embeds every repository; a code refresh's own job carries the rest
    automation_condition=dg.AutomationCondition.code_version_changed(),
    description="L-gent catalog entries (code nodes, fixture specs, registered artifacts) "
    "with their vectors in pgvector behind an HNSW index; re-embeds only changed text.",
)
def catalog_embeddings(
    context: dg.AssetExecutionContext,
    config: CatalogConfig,
    store: StoreResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult[None]:
    expected = embedder_code_version()
    if embedder.spec().code_version != expected:
        context.log.warning(
            f"the embedder resource ({embedder.backend}) differs from ${EMBEDDER_ENV} "
            f"({expected}); the asset's code version follows ${EMBEDDER_ENV}"
        )
    model = embedder.get()
    started = time.perf_counter()
    last_logged = [0]

    def progress(done: int, total: int) -> None:
        step = max(1, total // PROGRESS_STEPS)
        if done == total or done - last_logged[0] >= step:
            last_logged[0] = done
            context.log.info(f"embedded {done}/{total} catalog entries with {model.id}")

    specs = load_specs()
    report = sync_catalog(
        store.open(),
        model,
        repo=context.partition_key,
        full=config.full_reconcile,
        fixture_entries=fixture_entries(specs),
        progress=progress,
        run_id=context.run.run_id,
    )
    context.log.info(
        f"catalog {report.mode} sync ({report.reason}): +{report.added} ~{report.updated} "
        f"-{report.removed}, {report.reembedded} embedded"
    )
    return dg.MaterializeResult(
        metadata={
            "repository": context.partition_key,
            "mode": report.mode,
            "reason": report.reason,
            "embedder": report.embedder,
            "dimension": report.dimension,
            "entries_considered": report.considered,
            "entries_added": report.added,
            "entries_updated": report.updated,
            "entries_unchanged": report.unchanged,
            "entries_removed": report.removed,
            "entries_reembedded": report.reembedded,
            "dirty_marks_consumed": report.marks_consumed,
            "invalid_node_states": dg.MetadataValue.json(report.invalid_states[:50]),
            "hnsw_index_created": report.index_created,
            # where a (cold) sync spends its time: read states, write entries, vectors, index
            "phases_s": dg.MetadataValue.json(report.phases_s),
            "fixture_specs": len(specs),
            "duration_s": round(time.perf_counter() - started, 3),
        }
    )


# The catalog's checks guard store-wide invariants (one vector per entry, one embedder for
# every vector), so they are not partitioned: any repository's run re-checks the whole.
@dg.asset_check(
    asset=catalog_embeddings,
    description="Every catalog entry, of every repository, has exactly one vector, computed "
    "from its current text.",
)
def one_embedding_per_entry(store: StoreResource) -> dg.AssetCheckResult:
    with store.open().connect() as conn:
        coverage = storage.vector_coverage(conn, None)
    entries, with_vector, outdated, missing = coverage
    return dg.AssetCheckResult(
        passed=entries == with_vector and outdated == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "entries": entries,
            "with_vector": with_vector,
            "outdated_vectors": outdated,
            "examples": dg.MetadataValue.json(missing),
        },
    )


@dg.asset_check(
    asset=catalog_embeddings,
    description="Every vector comes from the configured embedder, with its dimension, and "
    "that dimension has its HNSW index.",
)
def embedding_dimension_matches(
    store: StoreResource, embedder: EmbedderResource
) -> dg.AssetCheckResult:
    model = embedder.get()
    with store.open().connect() as conn:
        rows = conn.execute(
            "SELECT embedder, dim, count(*) FROM catalog_embeddings GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
        indexed = storage.has_vector_index(conn, model.dimension)
    foreign = {
        f"{r[0]} ({r[1]})": r[2] for r in rows if (r[0], r[1]) != (model.id, model.dimension)
    }
    needs_index = model.dimension <= storage.HNSW_MAX_DIM and bool(rows)
    return dg.AssetCheckResult(
        passed=not foreign and (indexed or not needs_index),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "embedder": model.id,
            "dimension": model.dimension,
            "vectors_from_other_embedders": dg.MetadataValue.json(foreign),
            "hnsw_index": storage.vector_index_name(model.dimension) if indexed else "missing",
        },
    )


defs = dg.Definitions(
    assets=[catalog_embeddings],
    asset_checks=[one_embedding_per_entry, embedding_dimension_matches],
)
