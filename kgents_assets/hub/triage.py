"""Triage: which candidate updates go ahead. Every decision is traced with its reason.

The default backend decides by rules and is deterministic, so an incremental refresh
reaches exactly the state a cold rebuild reaches. An LLM backend (OpenAI-compatible
function calling) can be configured instead; it sees the diff bundle and the candidates
and must answer through the ``decide`` function (the schema and the request are
documented in docs/llm-triage.md).

A model that is down or answers outside the contract never fails a run: the LLM backend
falls back to the rules for that node and says so in each decision's reason (which
``hub_traces`` keeps) and in ``name`` (the trace's backend column), e.g.
``rules (llm fallback)``. An unreachable model is not asked again for ``retry_after_s``,
so a run over a thousand nodes does not wait a thousand timeouts.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

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


class ModelUnreachable(TriageError):
    """No answer at all (connection refused, timeout, server error)."""


DECIDE_TOOL: dict[str, Any] = {
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
SYSTEM_PROMPT = (
    "You triage updates to a code model. Call decide once with a decision for every candidate tool."
)
FALLBACK_SUFFIX = " (llm fallback)"


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


def _decisions_from_message(message: dict[str, Any]) -> list[Decision]:
    """Every ``decide`` call of the reply, merged: small models often make one call per
    candidate. ``arguments`` is a JSON string per the OpenAI API; some servers send an
    object, which is taken as is."""
    calls = [
        c["function"]
        for c in message.get("tool_calls") or []
        if isinstance(c, dict) and c.get("function", {}).get("name") == "decide"
    ]
    if not calls:
        raise ValueError("the model did not call decide")
    out: list[Decision] = []
    for call in calls:
        args = call.get("arguments")
        parsed = json.loads(args) if isinstance(args, str) else args
        if not isinstance(parsed, dict) or not isinstance(parsed.get("decisions"), list):
            raise ValueError(f"decide needs a list of decisions, got {args!r}")
        out.extend(_decision_from_llm(d) for d in parsed["decisions"])
    return out


class LLMTriage:
    """Triage by an OpenAI-compatible chat endpoint (e.g. a FunctionGemma served locally).

    With ``fallback=None`` a failure raises ``TriageError`` instead of falling back.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        *,
        fallback: TriageBackend | None = None,
        use_fallback: bool = True,
        retry_after_s: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = "llm"
        import httpx  # here, not at the top: every run imports this module, few use a model

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers)
        self._fallback = (fallback or RulesTriage()) if use_fallback else None
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self._down_reason = ""
        self.fallbacks = 0  # nodes decided by the fallback since this backend was made

    def request(self, bundle: DiffBundle, candidates: list[Candidate]) -> dict[str, Any]:
        """The chat completion request for one node (documented in docs/llm-triage.md)."""
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": json.dumps(
                        {"diff": asdict(bundle), "candidates": [asdict(c) for c in candidates]}
                    ),
                },
            ],
            "tools": [DECIDE_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "decide"}},
        }

    def ask(self, bundle: DiffBundle, candidates: list[Candidate]) -> list[Decision]:
        """The model's decisions, completed (a forgotten candidate is deferred, never
        approved); raises ``TriageError``/``ModelUnreachable``."""
        import httpx

        url = f"{self.base_url}/chat/completions"
        try:
            response = self._client.post(url, json=self.request(bundle, candidates))
        except httpx.HTTPError as exc:
            raise ModelUnreachable(f"LLM triage at {self.base_url} failed: {exc!r}") from exc
        if response.status_code >= 500:
            raise ModelUnreachable(
                f"LLM triage at {self.base_url} failed: HTTP {response.status_code}"
            )
        try:
            response.raise_for_status()
            decisions = _decisions_from_message(response.json()["choices"][0]["message"])
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise TriageError(f"LLM triage at {self.base_url} failed: {exc}") from exc
        wanted = {c.tool for c in candidates}
        decided = {d.tool for d in decisions if d.tool in wanted}
        kept = [d for d in decisions if d.tool in wanted]
        kept += [
            Decision(tool=t, verdict="deferred", reason="LLM gave no decision")
            for t in sorted(wanted - decided)
        ]
        return kept

    def decide(self, bundle: DiffBundle, candidates: list[Candidate]) -> list[Decision]:
        self.name = "llm"
        if self._fallback is None:
            return self.ask(bundle, candidates)
        if time.monotonic() < self._down_until:
            return self._fall_back(bundle, candidates, self._down_reason)
        try:
            return self.ask(bundle, candidates)
        except ModelUnreachable as exc:
            self._down_until = time.monotonic() + self._retry_after_s
            self._down_reason = f"{exc} (not asked again for {self._retry_after_s:g} s)"
            return self._fall_back(bundle, candidates, str(exc))
        except TriageError as exc:
            return self._fall_back(bundle, candidates, str(exc))

    def _fall_back(
        self, bundle: DiffBundle, candidates: list[Candidate], why: str
    ) -> list[Decision]:
        assert self._fallback is not None
        self.fallbacks += 1
        self.name = self._fallback.name + FALLBACK_SUFFIX
        return [
            Decision(tool=d.tool, verdict=d.verdict, reason=f"{d.reason} [fallback: {why}]")
            for d in self._fallback.decide(bundle, candidates)
        ]
