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
