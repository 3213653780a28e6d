from __future__ import annotations

import numpy as np
import pytest

from kgents_assets.catalog.drift import embedding_drift, node_embedding_drift
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.errors import EmbedderMismatch
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import Store
from tests.catalog.conftest import CORPUS, REPO, Node, make_node, put_nodes


def test_drift_is_cosine_distance() -> None:
    assert embedding_drift([1, 0], [1, 0]) == pytest.approx(0.0)
    assert embedding_drift([1, 0], [0, 1]) == pytest.approx(1.0)
    assert embedding_drift([1, 0], [-1, 0]) == pytest.approx(2.0)
    assert embedding_drift([2, 0], [1, 0]) == pytest.approx(0.0)  # scale does not matter
    assert embedding_drift([0, 0], [1, 0]) == 1.0


def test_drift_refuses_vectors_of_different_embedders() -> None:
    with pytest.raises(EmbedderMismatch, match=r"2-dimensional .* 3-dimensional"):
        embedding_drift(np.ones(2), np.ones(3))


def test_small_edit_drifts_less_than_a_rewrite() -> None:
    e = HashingEmbedder()
    old, small, rewrite = e.embed(
        [
            "def parse_config(path): return yaml.safe_load(open(path))",
            "def parse_config(path): return yaml.safe_load(open(path, encoding='utf-8'))",
            "def send_email(to, body): smtp.sendmail(sender, to, body)",
        ]
    )
    assert 0 < embedding_drift(old, small) < embedding_drift(old, rewrite)


def test_node_drift_against_the_stored_vector(store: Store) -> None:
    embedder = HashingEmbedder(256)
    node = CORPUS[0]
    assert node_embedding_drift_for(store, node, embedder) is None  # nothing stored yet
    put_nodes(store, [node])
    sync_catalog(store, embedder, repo=REPO)
    assert node_embedding_drift_for(store, node, embedder) == pytest.approx(0.0, abs=1e-6)
    rewritten = make_node(
        "parse_config", "Send an email.", "def parse_config(to):\n    smtp.sendmail(to)",
        file_path="app/config.py",
    )  # fmt: skip
    assert node_embedding_drift_for(store, rewritten, embedder) > 0.2  # same name, new body
    assert node_embedding_drift_for(store, node, HashingEmbedder(64)) is None


def node_embedding_drift_for(store: Store, node: Node, embedder: HashingEmbedder) -> float | None:
    with store.connect() as conn:
        return node_embedding_drift(conn, node.state, node.source, embedder)
