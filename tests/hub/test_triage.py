"""Rules and triage: signals map to tools; backends decide; nothing is silently approved."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from kgents_assets.hub.diff_bundle import build_diff_bundle
from kgents_assets.hub.models import Edge, NodeState
from kgents_assets.hub.rules import candidates_for
from kgents_assets.hub.triage import LLMTriage, RulesTriage, TriageError


def state(**changes: Any) -> NodeState:
    base = dict(
        node_id="n1",
        kind="function",
        name="f",
        qualname="f",
        full_name="m.f",
        file_path="m.py",
        language="python",
        start_line=1,
        end_line=3,
        source_hash="h1",
        signature="def f(x)",
        complexity=1,
    )
    return NodeState(**{**base, **changes})


def test_new_node_asks_for_every_discovery_tool() -> None:
    bundle = build_diff_bundle(None, None, state(), "def f(x): ...")
    assert [c.tool for c in candidates_for(bundle)] == [
        "extract_source_facts",
        "extract_signature",
        "compute_complexity",
        "find_callers",
        "find_callees",
        "find_tests",
        "generate_test_skeleton",
        "summarize",
    ]


def test_each_signal_maps_to_its_documented_tool() -> None:
    old = state()
    new = state(
        source_hash="h2",
        signature="def f(x, y)",
        complexity=4,
        callers=[Edge(node_id="n2", full_name="m.g", confidence=1.0)],
    )
    bundle = build_diff_bundle(old, "def f(x): ...", new, "def f(x, y):\n    if x: ...")
    assert bundle.standard.lines_added == 2 and bundle.standard.lines_removed == 1
    assert bundle.ast.complexity_delta == 3
    tools = {c.tool: c.signals for c in candidates_for(bundle)}
    assert tools["extract_signature"] == ["signature_changed"]
    assert tools["compute_complexity"] == ["complexity_delta"]
    assert tools["find_callers"] == ["callers_changed"]
    assert "summarize" in tools and "find_callees" not in tools
    bundle.embedding_drift = 0.4
    assert "search_similar" in {c.tool for c in candidates_for(bundle)}
    decisions = {d.tool: d.verdict for d in RulesTriage().decide(bundle, candidates_for(bundle))}
    assert decisions["search_similar"] == "deferred"  # no deterministic tool: never auto-run
    assert decisions["extract_signature"] == "approved"


def test_unchanged_node_has_no_candidates() -> None:
    assert candidates_for(build_diff_bundle(state(), "x", state(), "x")) == []


class _ChatHandler(BaseHTTPRequestHandler):
    reply: dict[str, Any] | str = {}
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        payload = self.reply if isinstance(self.reply, str) else json.dumps(self.reply)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat_server() -> Iterator[tuple[str, type[_ChatHandler]]]:
    handler = type("Handler", (_ChatHandler,), {"seen": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", handler
    server.shutdown()


def _tool_call(decisions: list[dict[str, str]]) -> dict[str, Any]:
    args = json.dumps({"decisions": decisions})
    return {
        "choices": [
            {"message": {"tool_calls": [{"function": {"name": "decide", "arguments": args}}]}}
        ]
    }


def test_llm_triage_uses_function_calling_and_defers_what_it_forgot(
    chat_server: tuple[str, type[_ChatHandler]],
) -> None:
    url, handler = chat_server
    handler.reply = _tool_call(
        [
            {"tool": "extract_signature", "verdict": "approved", "reason": "signature changed"},
            {"tool": "compute_complexity", "verdict": "rejected", "reason": "cosmetic"},
            {"tool": "rm_rf", "verdict": "approved", "reason": "not a candidate"},
        ]
    )
    bundle = build_diff_bundle(state(), "a", state(signature="def f(y)", complexity=2), "b")
    decisions = LLMTriage(url, "functiongemma", api_key="k").decide(bundle, candidates_for(bundle))
    verdicts = {d.tool: d.verdict for d in decisions}
    assert verdicts == {
        "extract_signature": "approved",
        "compute_complexity": "rejected",
        # forgotten by the model: deferred, never approved
        "generate_test_skeleton": "deferred",
        "summarize": "deferred",
    }
    request = handler.seen[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    assert request["tools"][0]["function"]["name"] == "decide"


def test_llm_triage_rejects_an_answer_outside_the_contract(
    chat_server: tuple[str, type[_ChatHandler]],
) -> None:
    url, handler = chat_server
    handler.reply = "{not json"
    bundle = build_diff_bundle(None, None, state(), "x")
    with pytest.raises(TriageError, match="LLM triage at"):
        LLMTriage(url, "m", use_fallback=False).decide(bundle, candidates_for(bundle))
