from __future__ import annotations

import numpy as np
import pytest

from kgents_assets.catalog.drift import embedding_drift
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.errors import EmbedderMismatch


def test_drift_is_cosine_distance() -> None:
    assert embedding_drift([1, 0], [1, 0]) == pytest.approx(0.0)
    assert embedding_drift([1, 0], [0, 1]) == pytest.approx(1.0)
    assert embedding_drift([1, 0], [-1, 0]) == pytest.approx(2.0)
    assert embedding_drift([2, 0], [1, 0]) == pytest.approx(0.0)  # scale does not matter
    assert embedding_drift([0, 0], [1, 0]) == 1.0


def test_drift_refuses_vectors_of_different_embedders() -> None:
    with pytest.raises(EmbedderMismatch, match="2-dimensional .* 3-dimensional"):
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
