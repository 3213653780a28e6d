"""The LLM generator against a real OpenAI-compatible HTTP endpoint on loopback.

The server is a scripted stand-in for a model (no model runs offline here); the client,
HTTP, JSON-schema prompt, retry on invalid output and validation are the real code.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.hotdata.errors import GeneratorError
from kgents_assets.hotdata.generators.llm import ChatEndpoint
from kgents_assets.hotdata.models import ThoughtStream
from kgents_assets.hotdata.registry import HotDataRegistry
from resources.llm import LLMResource, llm_resource_from_env

GOOD = [
    {
        "content": "The garden hums.",
        "source": "k-gent",
        "tags": ["insight"],
        "timestamp": "2025-03-01T10:00:00Z",
    }
]
BAD = [{"content": "No timestamp here.", "source": "k-gent"}]


class ScriptedModel:
    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []


@pytest.fixture
def model_server() -> Iterator[tuple[str, ScriptedModel]]:
    script = ScriptedModel([])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            script.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                self.send_response(404)
                self.end_headers()
                return
            reply = script.replies.pop(0)
            content = reply if isinstance(reply, str) else json.dumps(reply)
            data = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": content}}]}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


def test_llm_writes_the_fixture_after_correcting_invalid_output(
    fixtures_dir: Path, model_server: tuple[str, ScriptedModel]
) -> None:
    url, script = model_server
    script.replies = ["```json\n" + json.dumps(BAD) + "\n```", GOOD]
    endpoint = LLMResource(base_url=url, model="gemma-local", api_key="sk-test").endpoint()
    registry = HotDataRegistry(fixtures_dir, BUILTIN_SPECS, llm=endpoint)

    assert registry.get_status("thought_streams/demo").generator == "llm:gemma-local"
    assert registry.get_status("thought_streams/long").generator == "thought_streams"
    asyncio.run(registry.refresh("thought_streams/demo"))

    stream = registry.get("thought_streams/demo").load()
    assert isinstance(stream, ThoughtStream) and stream[0].content == "The garden hums."
    first, second = script.requests
    assert first["model"] == "gemma-local"
    assert first["response_format"] == {"type": "json_object"}
    assert '"timestamp"' in first["messages"][0]["content"]  # the JSON schema is in the prompt
    assert "[0].timestamp: Field required" in second["messages"][-1]["content"]
    assert script.headers[0]["Authorization"] == "Bearer sk-test"


def test_llm_output_that_stays_invalid_writes_nothing(
    fixtures_dir: Path, model_server: tuple[str, ScriptedModel]
) -> None:
    url, script = model_server
    script.replies = [BAD, "not json at all"]
    registry = HotDataRegistry(fixtures_dir, BUILTIN_SPECS, llm=ChatEndpoint(url, "m"))
    with pytest.raises(
        GeneratorError, match="stayed invalid: <root>: Invalid JSON: expected ident at line 1"
    ):
        asyncio.run(registry.refresh("thought_streams/demo"))
    assert not registry.get("thought_streams/demo").exists()


def test_unreachable_endpoint_is_a_clear_error(fixtures_dir: Path) -> None:
    registry = HotDataRegistry(
        fixtures_dir, BUILTIN_SPECS, llm=ChatEndpoint("http://127.0.0.1:9/v1", "m", timeout=2)
    )
    with pytest.raises(GeneratorError, match=r"LLM endpoint http://127.0.0.1:9/v1/chat/"):
        asyncio.run(registry.refresh("thought_streams/demo"))


def test_no_endpoint_configured_means_no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KGENTS_LLM_BASE_URL", "KGENTS_LLM_MODEL", "KGENTS_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert llm_resource_from_env().process_config_and_initialize().endpoint() is None
    monkeypatch.setenv("KGENTS_LLM_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("KGENTS_LLM_MODEL", "functiongemma")
    resource = llm_resource_from_env().process_config_and_initialize()
    assert resource.endpoint() == ChatEndpoint("http://localhost:8000/v1", "functiongemma")
