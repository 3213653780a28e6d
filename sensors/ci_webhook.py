"""CI results posted to a webhook: validated, turned into events, journaled.

Accepts GitHub Actions webhook payloads (``workflow_run`` and ``workflow_job`` events) and
a plain generic form for any other CI::

    {"kind": "ci_workflow", "provider": "gitlab", "run_id": "42", "workflow": "tests",
     "status": "completed", "conclusion": "failure", "sha": "…", "branch": "main"}

A failed CI job's failing steps become ``failed_steps``; a failing run is CRITICAL, so the
test-failure path treats it before anything else. The gateway mounts this as a route.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from kgents_assets.store import Store
from sensors.events import CIJobEvent, CIWorkflowEvent
from sensors.journal import EventJournal

SOURCE = "ci-webhook"


class InvalidCIPayload(ValueError):
    """The posted payload is not a CI result this endpoint understands; says why."""


def _github_workflow(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "ci_workflow",
        "provider": "github",
        "run_id": str(run.get("id", "")),
        "workflow": run.get("name") or run.get("path") or "",
        "status": run.get("status"),
        "conclusion": run.get("conclusion"),
        "sha": run.get("head_sha"),
        "branch": run.get("head_branch"),
        "url": run.get("html_url"),
    }


def _github_job(job: dict[str, Any]) -> dict[str, Any]:
    steps = job.get("steps") or []
    return {
        "kind": "ci_job",
        "provider": "github",
        "run_id": str(job.get("run_id", "")),
        "workflow": job.get("workflow_name") or "",
        "job_id": str(job.get("id", "")),
        "job": job.get("name") or "",
        "status": job.get("status"),
        "conclusion": job.get("conclusion"),
        "sha": job.get("head_sha"),
        "branch": job.get("head_branch"),
        "url": job.get("html_url"),
        "failed_steps": [
            s.get("name", "?")
            for s in steps
            if isinstance(s, dict) and s.get("conclusion") == "failure"
        ],
    }


def parse_ci_payload(payload: dict[str, Any]) -> CIWorkflowEvent | CIJobEvent:
    if not isinstance(payload, dict):
        raise InvalidCIPayload("a CI payload must be a JSON object")
    if isinstance(payload.get("workflow_job"), dict):
        data = _github_job(payload["workflow_job"])
    elif isinstance(payload.get("workflow_run"), dict):
        data = _github_workflow(payload["workflow_run"])
    elif payload.get("kind") in ("ci_workflow", "ci_job"):
        data = {k: v for k, v in payload.items() if k not in ("at",)}
    else:
        raise InvalidCIPayload(
            "unrecognised CI payload: expected a GitHub `workflow_run`/`workflow_job` "
            "webhook or an object with kind 'ci_workflow' or 'ci_job'"
        )
    data["source"] = SOURCE
    try:
        if data["kind"] == "ci_job":
            return CIJobEvent.model_validate(data)
        return CIWorkflowEvent.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidCIPayload(f"invalid CI payload: {problems}") from None


def record_ci_event(store: Store, payload: dict[str, Any]) -> CIWorkflowEvent | CIJobEvent:
    """Validate a posted CI result and append it to the journal; returns the event.

    Raises ``InvalidCIPayload`` (a ValueError; map it to HTTP 422) and journals nothing
    when the payload is not valid.
    """
    event = parse_ci_payload(payload)
    EventJournal(store).append(event)
    return event
