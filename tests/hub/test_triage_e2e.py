"""The LLM triage backend end to end through the ``node_state`` asset: a real Dagster
run against real PostgreSQL, asking a loopback OpenAI-compatible chat server over real
HTTP that answers with real tool calls. What the model approved is in the stored state;
what it rejected is not; a model that is down or answers garbage falls back to the rules,
the run succeeds and ``hub_traces`` says why."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, instance_for_test, materialize

from kgents_assets.assets.code import code_nodes, code_run_config, node_state
from kgents_assets.assets.partitions import ensure_partition
from kgents_assets.hub.node_ids import make_node_id, qualify_node_id
from kgents_assets.hub.state_store import load_state
from kgents_assets.hub.traces import traces_for_node
from kgents_assets.hub.triage import DECIDE_TOOL
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from resources.llm import LLMResource
from resources.repo import RepoResource
from resources.store import StoreResource
from resources.triage import TriageResource

REPO = "calc"


def version(n: int) -> str:
    """``area`` with ``n`` extra parameters, each checked by one branch: every version has
    a new signature and complexity ``1 + n``."""
    params = "".join(f", k{i}=0" for i in range(n))
    checks = "".join(f"    if k{i} < 0:\n        raise ValueError(k{i})\n" for i in range(n))
    return f'def area(w, h{params}):\n    """Area of a rectangle."""\n{checks}    return w * h\n'


V1 = version(0)
AREA = qualify_node_id(REPO, make_node_id("calc/geometry.py", "function", "area"))

Policy = Callable[[dict[str, Any]], dict[str, Any] | str]


@dataclass
class ChatServer:
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1, scripted by ``policy``
    (the request's candidates in, a completion or raw text out)."""

    url: str
    policy: Policy
    requests: list[dict[str, Any]] = field(default_factory=list)


def completion(decisions: list[dict[str, str]]) -> dict[str, Any]:
    call = {
        "id": "call_0",
        "type": "function",
        "function": {"name": "decide", "arguments": json.dumps({"decisions": decisions})},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "functiongemma-270m-it",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }


def candidates(request: dict[str, Any]) -> list[str]:
    return [c["tool"] for c in json.loads(request["messages"][1]["content"])["candidates"]]


def approve_all_but(*skipped: str) -> Policy:
    def policy(request: dict[str, Any]) -> dict[str, Any]:
        return completion(
            [
                {"tool": t, "verdict": "rejected" if t in skipped else "approved",
                 "reason": "not worth it" if t in skipped else "model says yes"}
                for t in candidates(request)
            ]
        )  # fmt: skip

    return policy


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    box: list[ChatServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            server = box[0]
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append({"path": self.path, **request})
            reply = server.policy(request)
            body = reply if isinstance(reply, str) else json.dumps(reply)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(ChatServer(f"http://127.0.0.1:{http.server_port}/v1", approve_all_but()))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    http.shutdown()
    http.server_close()


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def project(store: Store, tmp_path: Path, instance: DagsterInstance) -> Path:
    root = tmp_path / "calc"
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "geometry.py").write_text(V1)
    add_repository(store, REPO, str(root))
    ensure_partition(instance, REPO)
    return root


def node_state_run(
    store: Store, instance: DagsterInstance, llm_url: str, *, timeout_s: float = 5.0
) -> dict[str, Any]:
    """code_nodes -> node_state for the repository, triage configured as in production
    (TriageResource 'llm' + LLMResource); returns node_state's metadata."""
    result = materialize(
        [code_nodes, node_state],
        partition_key=REPO,
        instance=instance,
        run_config=code_run_config(None),
        resources={
            "repo": RepoResource(),
            "store": StoreResource(database_url=store.url),
            "triage": TriageResource(backend="llm"),
            "llm": LLMResource(base_url=llm_url, model="functiongemma", timeout_seconds=timeout_s),
        },
    )
    assert result.success
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == "node_state":
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise AssertionError("node_state was not materialized")


def last_trace(store: Store) -> dict[str, Any]:
    with store.connect() as conn:
        return traces_for_node(conn, AREA)[-1]


def stored(store: Store) -> Any:
    with store.connect() as conn:
        state = load_state(conn, AREA)
    assert state is not None
    return state


@pytest.mark.slow
def test_what_the_model_approved_ran_and_what_it_rejected_did_not(
    store: Store, instance: DagsterInstance, project: Path, chat: ChatServer
) -> None:
    meta = node_state_run(store, instance, chat.url)
    assert meta["triage_backend"] == "llm" and meta["states_added"] >= 2
    first = stored(store)
    assert first.signature == "def area(w, h)" and first.complexity == 1
    request = chat.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "functiongemma"
    assert request["tools"] == [DECIDE_TOOL]
    assert request["tool_choice"] == {"type": "function", "function": {"name": "decide"}}

    # The model approves the new signature but rejects the complexity update.
    chat.policy = approve_all_but("compute_complexity")
    (project / "calc" / "geometry.py").write_text(version(1))
    node_state_run(store, instance, chat.url)
    second = stored(store)
    assert second.signature == "def area(w, h, k0=0)"  # approved: ran
    assert second.complexity == 1  # rejected: the stored value did not move
    assert second.updated["complexity"] == first.updated["complexity"]
    assert second.updated["signature"] > first.updated["signature"]
    trace = last_trace(store)
    verdicts = {d["tool"]: (d["verdict"], d["reason"]) for d in trace["decisions"]}
    assert trace["backend"] == "llm"
    assert verdicts["extract_signature"] == ("approved", "model says yes")
    assert verdicts["compute_complexity"] == ("rejected", "not worth it")
    assert {"signature_changed", "complexity_delta"} <= set(trace["signals"])


BREAKAGES: list[tuple[str, str, Policy | None]] = [
    ("down", "ConnectError", None),
    ("garbage", "LLM triage at", lambda request: "<html>502 upstream gone</html>"),
    (
        "no tool call",
        "the model did not call decide",
        lambda request: {"choices": [{"message": {"role": "assistant", "content": "Sure!"}}]},
    ),
    (
        "unknown verdict",
        "a decision needs a tool and a verdict",
        lambda request: completion(
            [{"tool": t, "verdict": "yes please", "reason": ""} for t in candidates(request)]
        ),
    ),
]


@pytest.mark.slow
def test_a_broken_model_falls_back_to_the_rules_with_the_reason_traced(
    store: Store, instance: DagsterInstance, project: Path, chat: ChatServer
) -> None:
    node_state_run(store, instance, chat.url)
    for n, (breakage, why, policy) in enumerate(BREAKAGES, start=2):
        before = len(chat.requests)
        url = "http://127.0.0.1:9/v1" if policy is None else chat.url  # 9: nobody listens
        if policy is not None:
            chat.policy = policy
        (project / "calc" / "geometry.py").write_text(version(n))
        meta = node_state_run(store, instance, url, timeout_s=2.0)  # the run succeeds
        # the rules approve every deterministic tool: both changes are in the state
        state = stored(store)
        assert state.signature.count("=0") == n and state.complexity == 1 + n, breakage
        trace = last_trace(store)
        assert trace["backend"] == meta["triage_backend"] == "rules (llm fallback)", breakage
        for decision in trace["decisions"]:
            assert "[fallback: " in decision["reason"] and why in decision["reason"], decision
        # down: nothing reached our server; otherwise it was asked and answered badly
        assert (len(chat.requests) > before) == (policy is not None), breakage
