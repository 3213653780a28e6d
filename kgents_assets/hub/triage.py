"""Triage: which candidate updates go ahead. Every decision is traced with its reason.

The default backend decides by rules and is deterministic, so an incremental refresh
reaches exactly the state a cold rebuild reaches. An LLM backend (OpenAI-compatible
function calling) can be configured instead; it sees the diff bundle and the candidates
and must answer through the ``decide`` function.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal, Protocol

import httpx

from kgents_assets.hub.diff_bundle import DiffBundle
from kgents_assets.hub.rules import Candidate

Verdict = Literal["approved", "rejected", "deferred"]


@dataclass(frozen=True, slots=True)
class Decision:
    tool: str
    verdict: Verdict
    reason: str


class TriageBackend(Protocol):
    name: str

    def decide(self, bundle: DiffBundle, candidates: list[Candidate]) -> list[Decision]: ...


#: Tools that only ever run here: they read the model, they never change the repository.
DETERMINISTIC_TOOLS = frozenset(
    {
        "extract_source_facts",
        "extract_signature",
        "compute_complexity",
        "find_callers",
        "find_callees",
        "find_tests",
        "generate_test_skeleton",
        "summarize",
    }
)


class RulesTriage:
    """Approves every deterministic tool; defers the rest to a person or another backend."""

    name = "rules"

    def decide(self, bundle: DiffBundle, candidates: list[Candidate]) -> list[Decision]:
        return [
            Decision(
                tool=c.tool,
                verdict="approved" if c.tool in DETERMINISTIC_TOOLS else "deferred",
                reason=("rule: " + ", ".join(c.signals))
                if c.tool in DETERMINISTIC_TOOLS
                else "no deterministic tool here; needs the catalog or a person",
            )
            for c in candidates
        ]


class TriageError(RuntimeError):
    """The LLM backend failed or answered outside the contract."""


_DECIDE_TOOL = {
    "type": "function",
    "function": {
        "name": "decide",
        "description": "Approve, reject or defer each candidate update of a code node.",
        "parameters": {
            "type": "object",
            "properties": {
                "decisions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "tool": {"type": "string"},
                            "verdict": {"enum": ["approved", "rejected", "deferred"]},
                            "reason": {"type": "string"},
                        },
                        "required": ["tool", "verdict", "reason"],
                    },
                }
            },
            "required": ["decisions"],
        },
    },
}


def _decision_from_llm(raw: object) -> Decision:
    """A decision as the model sent it, checked: it is outside input."""
    if not isinstance(raw, dict):
        raise ValueError(f"a decision must be an object, got {raw!r}")
    tool, verdict, reason = raw.get("tool"), raw.get("verdict"), raw.get("reason", "")
    if not isinstance(tool, str) or verdict not in ("approved", "rejected", "deferred"):
        raise ValueError(
            f"a decision needs a tool and a verdict approved|rejected|deferred: {raw!r}"
        )
    return Decision(tool=tool, verdict=verdict, reason=str(reason))


class LLMTriage:
    """Triage by an OpenAI-compatible chat endpoint (e.g. a FunctionGemma served locally)."""

    name = "llm"

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers)

    def decide(self, bundle: DiffBundle, candidates: list[Candidate]) -> list[Decision]:
        payload = {
            "model": self.model,
            "messages": [
                {
                    "role": "system",
                    "content": "You triage updates to a code model. "
                    "Call decide once with a decision for every candidate tool.",
                },
                {
                    "role": "user",
                    "content": json.dumps(
                        {
                            "diff": asdict(bundle),
                            "candidates": [asdict(c) for c in candidates],
                        }
                    ),
                },
            ],
            "tools": [_DECIDE_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "decide"}},
        }
        try:
            response = self._client.post(f"{self.base_url}/chat/completions", json=payload)
            response.raise_for_status()
            call = response.json()["choices"][0]["message"]["tool_calls"][0]["function"]
            raw = json.loads(call["arguments"])["decisions"]
            decisions = [_decision_from_llm(d) for d in raw]
        except (
            httpx.HTTPError,
            KeyError,
            IndexError,
            TypeError,
            ValueError,
        ) as exc:
            raise TriageError(f"LLM triage at {self.base_url} failed: {exc}") from exc
        wanted = {c.tool for c in candidates}
        decided = {d.tool for d in decisions if d.tool in wanted}
        # A candidate the model forgot is deferred, never silently approved.
        decisions = [d for d in decisions if d.tool in wanted]
        decisions += [
            Decision(tool=t, verdict="deferred", reason="LLM gave no decision")
            for t in sorted(wanted - decided)
        ]
        return decisions
