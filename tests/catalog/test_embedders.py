"""Embedder backends: the default hashing one, spec parsing, clear errors, and an
OpenAI-compatible endpoint served for real on loopback."""

from __future__ import annotations

import importlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from kgents_assets.catalog.embedders import HashingEmbedder, build_embedder, parse_spec
from kgents_assets.catalog.embedders.openai import OpenAIEmbedder
from kgents_assets.catalog.errors import EmbedderUnavailable


def test_hashing_is_deterministic_normalised_and_code_aware() -> None:
    e = HashingEmbedder(512)
    a, b, c, d = e.embed(
        [
            "parseConfigFile reads settings",
            "parse_config_file reads settings",
            "render an html page",
            "",
        ]
    )
    assert np.allclose(a, HashingEmbedder(512).embed(["parseConfigFile reads settings"])[0])
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-6)
    assert float(a @ b) > 0.6  # camelCase and snake_case of one name meet
    assert abs(float(a @ c)) < 0.2
    assert not d.any()  # nothing to hash: a zero vector, not NaNs
    assert e.id == "hashing-v1:512" and e.embed([]).shape == (0, 512)


def test_specs_parse_without_loading_models() -> None:
    assert parse_spec("hashing").code_version == "hashing-v1:512"
    assert parse_spec("hashing:128").dimension == 128
    assert parse_spec("openai:text-embedding-3-small").dimension == 1536
    assert parse_spec("openai:my-model@64").code_version == "openai:my-model:64"
    assert parse_spec("model2vec:/models/m2v").code_version == "model2vec:/models/m2v:auto"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("word2vec:x", "unknown embedder backend 'word2vec'"),
        ("hashing:lots", "hashing takes a dimension"),
        ("hashing:4", "dimension must be in 16..2000"),
        ("openai:", "names no model"),
    ],
)
def test_bad_specs_fail_clearly_and_never_fall_back(spec: str, message: str) -> None:
    with pytest.raises(EmbedderUnavailable, match=message):
        build_embedder(spec)


@pytest.mark.parametrize(
    ("backend", "module", "extra"),
    [
        ("sentence-transformers", "sentence_transformers", "neural"),
        ("model2vec", "model2vec", "model2vec"),
    ],
)
def test_missing_model_directory_is_a_clear_error(backend: str, module: str, extra: str) -> None:
    try:
        importlib.import_module(module)
        expected = f"cannot load {backend} model '/no/such/model-dir'"
    except ImportError:  # the extra is not installed here: that is the error to expect
        expected = f"uv sync --extra {extra}"
    with pytest.raises(EmbedderUnavailable, match=re.escape(expected)):
        build_embedder(f"{backend}:/no/such/model-dir")


def test_missing_extra_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "model2vec", None)  # as if not installed
    with pytest.raises(EmbedderUnavailable, match=r"uv sync --extra model2vec"):
        build_embedder("model2vec:/models/m2v")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EmbedderUnavailable, match=r"uv sync --extra neural"):
        build_embedder("sentence-transformers:all-MiniLM-L6-v2")


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible /embeddings server backed by the hashing embedder."""

    model = HashingEmbedder(32)
    seen: list[dict[str, object]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"auth": self.headers.get("Authorization"), **body})
        if body["model"] != "tiny":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "model not found"}')
            return
        vectors = self.model.embed(body["input"]) * 3.0  # unnormalised, as some servers send
        data = [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        payload = json.dumps({"data": list(reversed(data))}).encode()  # order by index, not list
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def embeddings_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_openai_compatible_endpoint(embeddings_server: str) -> None:
    e = OpenAIEmbedder("tiny", base_url=embeddings_server, api_key="sk-test")
    assert e.dimension == 32  # probed
    vectors = e.embed(["first text", "second text"] * 100)  # two requests (batch 128)
    assert vectors.shape == (200, 32)
    assert np.allclose(vectors[0], HashingEmbedder(32).embed(["first text"])[0], atol=1e-6)
    assert _EmbeddingsHandler.seen[-1]["auth"] == "Bearer sk-test"
    assert e.id == "openai:tiny:32"
    with pytest.raises(EmbedderUnavailable, match="answered 404 for model 'nope'"):
        OpenAIEmbedder("nope", base_url=embeddings_server, dimension=8).embed(["x"])


def test_openai_endpoint_down_is_a_clear_error() -> None:
    e = OpenAIEmbedder("tiny", base_url="http://127.0.0.1:9/v1", dimension=8)
    with pytest.raises(
        EmbedderUnavailable, match=r"embedding endpoint http://127.0.0.1:9/v1 failed"
    ):
        e.embed(["x"])


# The hashing embedder as first written: one Python step per token and per feature, each
# weight added into a float32 row. The fast one must give these vectors to the bit: stored
# vectors of `hashing-v1` are compared with new queries and kept across upgrades.
def _reference_hashing(texts: list[str], dimension: int) -> np.ndarray:
    import hashlib
    import itertools
    import math
    from collections import Counter

    from kgents_assets.catalog.text import (
        MAX_EMBED_CHARS,
        STOP_WORDS,
        split_identifier,
        stem,
        truncate,
    )

    def tokens(text: str) -> list[str]:
        out: list[str] = []
        for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*|\d+", text):
            word = match.group()
            parts = split_identifier(word)
            if len(parts) > 1 and word.lower().strip("_") not in STOP_WORDS:
                out.append(word.lower().strip("_"))
            out.extend(p for p in parts if p not in STOP_WORDS and len(p) > 1)
        return out

    out = np.zeros((len(texts), dimension), dtype=np.float32)
    for row, text in enumerate(texts):
        words = [stem(t) for t in tokens(truncate(text, MAX_EMBED_CHARS))]
        weighted = {w: 1.0 + math.log(tf) for w, tf in Counter(words).items()}
        pairs = Counter(f"{a} {b}" for a, b in itertools.pairwise(words) if a != b)
        weighted.update({g: 0.5 * (1.0 + math.log(tf)) for g, tf in pairs.items()})
        vec = out[row]
        for feature, weight in weighted.items():
            value = int.from_bytes(
                hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little"
            )
            vec[value % dimension] += (1.0 if (value >> 63) & 1 else -1.0) * weight
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec /= norm
    return out


def _code_texts() -> list[str]:
    """Real code of every shape: this package's own modules, cut into functions."""
    import pathlib

    import kgents_assets

    texts: list[str] = []
    for path in sorted(pathlib.Path(kgents_assets.__file__).parent.rglob("*.py"))[:60]:
        texts.extend(path.read_text().split("\ndef "))
    return [
        *texts,
        "",
        "the the the",  # only stop words: a zero vector
        "a a a a b b parse parse parse",  # repeated tokens and a repeated bigram
        "x" * 9_000,  # past MAX_EMBED_CHARS: truncated the same way
        "héllo wörld naïve_café HTTPServer2 __init__ x_1 12ab",
    ]


@pytest.mark.parametrize("dimension", [16, 512, 1999])
def test_hashing_vectors_equal_the_reference_to_the_bit(dimension: int) -> None:
    texts = _code_texts()
    fast = HashingEmbedder(dimension).embed(texts)
    assert fast.dtype == np.float32
    assert fast.tobytes() == _reference_hashing(texts, dimension).tobytes()
    # one text at a time (another batch layout) gives the same rows
    assert HashingEmbedder(dimension).embed(texts[:7]).tobytes() == fast[:7].tobytes()


def test_pool_embeds_what_the_process_does_in_order() -> None:
    from kgents_assets.catalog.embedders.pool import EmbeddingPool, is_parallel

    embedder = HashingEmbedder(512)
    assert is_parallel(embedder)
    texts = _code_texts()
    chunks = [texts[i : i + 50] for i in range(0, len(texts), 50)]
    with EmbeddingPool(embedder, 2, warm=True) as pool:
        for chunk in chunks:
            pool.submit(chunk)
        pooled = np.vstack(list(pool.results()))
    assert pooled.tobytes() == embedder.embed(texts).tobytes()


def test_pool_whose_workers_die_leaves_the_work_to_the_caller() -> None:
    import os
    import signal

    from kgents_assets.catalog.embedders.pool import EmbeddingPool

    embedder = HashingEmbedder(64)
    texts = _code_texts()[:120]
    with EmbeddingPool(embedder, 2, warm=True) as pool:
        pool.submit(texts[:60])
        first = next(pool.results())
        for pid in pool.pids:  # the workers, killed for real
            os.kill(pid, signal.SIGKILL)
        pool.submit(texts[60:])
        rest = list(pool.results())
    assert np.vstack([first, *rest]).tobytes() == embedder.embed(texts).tobytes()
