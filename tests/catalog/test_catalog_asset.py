"""The Dagster wiring: a real materialization of ``catalog_embeddings`` with its checks on
an ephemeral instance, incremental re-runs, and the embedder in the code version."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from kgents_assets.assets import catalog as catalog_assets
from kgents_assets.hotdata.catalog import load_specs
from kgents_assets.store import Store
from resources.embedder import EmbedderResource
from resources.store import StoreResource
from tests.catalog.conftest import CORPUS, REPO, make_node, put_nodes

pytestmark = pytest.mark.slow


def _instance() -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repositories", [REPO])
    return instance


def run(
    store: Store, tmp_path: Path, backend: str = "hashing:64", **config: object
) -> dg.ExecuteInProcessResult:
    resources = {
        "store": StoreResource(database_url=store.url),
        "embedder": EmbedderResource(backend=backend),
    }
    return dg.materialize(
        [catalog_assets.catalog_embeddings],
        resources=resources,
        instance=_instance(),
        partition_key=REPO,
        run_config={"ops": {"catalog_embeddings": {"config": config}}} if config else None,
        selection=None,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node("catalog_embeddings")
    return {k: v.value for k, v in event.metadata.items()}


def checks(store: Store, tmp_path: Path, backend: str) -> dict[str, bool]:
    """Only the checks (store-wide, unpartitioned): the asset is not re-materialized."""
    result = dg.materialize(
        [
            catalog_assets.catalog_embeddings,
            catalog_assets.one_embedding_per_entry,
            catalog_assets.embedding_dimension_matches,
        ],
        resources={
            "store": StoreResource(database_url=store.url),
            "embedder": EmbedderResource(backend=backend),
        },
        instance=_instance(),
        selection=dg.AssetSelection.checks_for_assets(catalog_assets.catalog_embeddings),
        raise_on_error=False,
    )
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_materialize_then_edit_one_node(store: Store, tmp_path: Path) -> None:
    put_nodes(store, CORPUS)
    first = metadata(run(store, tmp_path))
    fixtures = len(load_specs())
    assert first["entries_added"] == len(CORPUS) + fixtures
    assert first["entries_reembedded"] == len(CORPUS) + fixtures
    assert first["embedder"] == "hashing-v1:64" and first["dimension"] == 64
    assert first["hnsw_index_created"] is True

    edited = make_node(
        "parse_config",
        "Read the TOML configuration file and return its settings.",
        "def parse_config(path):\n    return tomllib.loads(path.read_text())",
        file_path="app/config.py",
    )
    put_nodes(store, [edited])
    second_run = run(store, tmp_path)
    second = metadata(second_run)
    assert (second["entries_updated"], second["entries_reembedded"]) == (1, 1)
    with store.connect() as conn:  # the diff bundle's embedding part, traced by rule
        trace = conn.execute(
            "SELECT run_id, signals, decisions FROM hub_traces WHERE node_id = %s", (edited.id,)
        ).fetchone()
    assert trace is not None and trace[0] == second_run.run_id
    assert trace[1][0].startswith("embedding_drift:") and float(trace[1][0].split(":")[1]) > 0
    assert trace[2][0]["tool"] == "search_similar"
    assert second["entries_added"] == 0 and second["mode"] == "incremental"
    assert checks(store, tmp_path, "hashing:64") == {
        "one_embedding_per_entry": True,
        "embedding_dimension_matches": True,
    }
    # another embedder configured but not yet materialized: the dimension check fails
    assert checks(store, tmp_path, "hashing:32")["embedding_dimension_matches"] is False
    third = metadata(run(store, tmp_path, backend="hashing:32"))
    assert third["mode"] == "full" and third["entries_reembedded"] == len(CORPUS) + fixtures
    assert checks(store, tmp_path, "hashing:32")["embedding_dimension_matches"] is True
    with store.transaction() as conn:  # a vector lost behind the asset's back
        conn.execute("DELETE FROM catalog_embeddings WHERE entry_id = %s", (edited.id,))
    assert checks(store, tmp_path, "hashing:32")["one_embedding_per_entry"] is False


def test_full_reconcile_from_run_config(store: Store, tmp_path: Path) -> None:
    put_nodes(store, CORPUS, mark=False)
    assert metadata(run(store, tmp_path))["entries_added"] == len(load_specs())
    full = metadata(run(store, tmp_path, full_reconcile=True))
    assert full["mode"] == "full" and full["entries_added"] == len(CORPUS)


def test_bad_embedder_fails_the_run_with_the_reason(store: Store, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="unknown embedder backend 'word2vec'"):
        run(store, tmp_path, backend="word2vec:x")


def test_code_version_follows_the_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = catalog_assets.catalog_embeddings.specs_by_key[dg.AssetKey("catalog_embeddings")]
    assert spec.code_version == catalog_assets.embedder_code_version()  # env at import
    monkeypatch.delenv("KGENTS_EMBEDDER", raising=False)
    assert catalog_assets.embedder_code_version() == "hashing-v1:512"
    monkeypatch.setenv("KGENTS_EMBEDDER", "hashing:128")
    assert catalog_assets.embedder_code_version() == "hashing-v1:128"
    assert catalog_assets.embedder_code_version("sentence-transformers:/m") == (
        "sentence-transformers:/m:auto"
    )
    assert catalog_assets.embedder_code_version("word2vec:x") == "invalid:word2vec:x"
    deps = {d.asset_key for d in spec.deps}
    assert dg.AssetKey("node_state") in deps and len(deps) == 1 + len(load_specs())
    check_names = {k.name for c in catalog_assets.defs.asset_checks or [] for k in c.check_keys}
    assert check_names == {"one_embedding_per_entry", "embedding_dimension_matches"}


def test_loads_beside_the_other_domains_with_the_default_resources() -> None:
    from kgents_assets.assets import code, hotdata
    from resources import default_resources

    merged = dg.Definitions.merge(
        code.defs, hotdata.defs, catalog_assets.defs, dg.Definitions(resources=default_resources())
    )
    dg.Definitions.validate_loadable(merged)
    graph = merged.resolve_asset_graph()
    assert dg.AssetKey("node_state") in graph.get(dg.AssetKey("catalog_embeddings")).parent_keys
