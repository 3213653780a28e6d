"""``POST /api/ci/events``: CI results into the event journal (CI failures feed the
test-failure sensor like local pytest failures do).

Accepted bodies: a GitHub webhook delivery (``workflow_run`` / ``workflow_job``), or the
generic form of ``sensors.ci_webhook`` (``kind`` ``ci_workflow`` / ``ci_job``); either may
carry ``failed_tests`` (see ``sensors.ci_tests``). ``?repo=NAME`` files the events under
a registered repository (its failure bundles are built against that repository's model).

Who may post: whoever holds the gateway's steering token, shown either as
``Authorization: Bearer <token>`` (scripts, other CI systems) or, for a GitHub webhook
whose secret is that token, as GitHub's ``X-Hub-Signature-256`` HMAC of the body. GitHub
cannot send a bearer header, and the signature proves the body was not altered either.

Bad input answers 422 with the reason and journals nothing; a GitHub ``ping`` (sent when
the webhook is created) answers 200 without journaling.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import SecretStr

from gateway.agents.registry import AgentRegistry
from gateway.auth import bearer_token, token_matches
from gateway.routes import deps
from kgents_assets.store import Store
from sensors.ci_tests import record_ci_result
from sensors.ci_webhook import InvalidCIPayload

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/ci", tags=["ci"])

MAX_BODY_BYTES = 5_000_000
SIGNATURE_HEADER = "x-hub-signature-256"
GITHUB_EVENT_HEADER = "x-github-event"
CI_GITHUB_EVENTS = frozenset({"workflow_run", "workflow_job"})
#: the hosted agent whose stream shows CI results on the gateway page
STREAM_AGENT = "daemon"
# starlette renamed these constants; the numbers are what clients see
UNPROCESSABLE = 422
TOO_LARGE = 413


def _signature_matches(configured: SecretStr, signature: str, body: bytes) -> bool:
    scheme, _, digest = signature.partition("=")
    if scheme != "sha256" or not digest:
        return False
    expected = hmac.new(configured.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def _authorize(request: Request, body: bytes) -> None:
    configured: SecretStr | None = request.app.state.settings.token
    if configured is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "CI events are disabled: the gateway has no KGENTS_GATEWAY_TOKEN configured",
        )
    signature = request.headers.get(SIGNATURE_HEADER)
    if signature is not None:
        if _signature_matches(configured, signature, body):
            return
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{SIGNATURE_HEADER} does not match the body: the webhook secret must be the "
            "gateway's KGENTS_GATEWAY_TOKEN",
        )
    if not token_matches(configured, bearer_token(request.headers)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"missing or invalid bearer token (or a GitHub {SIGNATURE_HEADER} signature)",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(
            TOO_LARGE,
            f"a CI payload may be at most {MAX_BODY_BYTES} bytes",
        )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(
                TOO_LARGE,
                f"a CI payload may be at most {MAX_BODY_BYTES} bytes",
            )
    return bytes(body)


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(UNPROCESSABLE, f"the body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise HTTPException(UNPROCESSABLE, "a CI payload must be a JSON object")
    return payload


@router.post("/events", status_code=status.HTTP_202_ACCEPTED)
async def ci_event(
    request: Request,
    response: Response,
    store: Annotated[Store, Depends(deps.store)],
    registry: Annotated[AgentRegistry, Depends(deps.registry)],
    repo: Annotated[
        str | None, Query(max_length=64, description="the repository CI ran (registered)")
    ] = None,
) -> dict[str, Any]:
    """Journal one CI result (and the tests it saw fail); a failure is CRITICAL."""
    body = await _read_body(request)
    _authorize(request, body)
    github_event = request.headers.get(GITHUB_EVENT_HEADER)
    if github_event == "ping":
        response.status_code = status.HTTP_200_OK
        return {"pong": True, "journaled": False}
    if github_event is not None and github_event not in CI_GITHUB_EVENTS:
        raise HTTPException(
            UNPROCESSABLE,
            f"GitHub event {github_event!r} is not a CI result: subscribe this webhook to "
            "'Workflow runs' and 'Workflow jobs' only",
        )
    payload = _payload(body)
    try:
        event, tests = await asyncio.to_thread(record_ci_result, store, payload, repo)
    except InvalidCIPayload as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None
    answer = {
        "kind": event.kind,
        "key": event.key,
        "priority": event.priority.name,
        "failed": event.failed,
        "summary": event.summary(),
        "failed_tests": [t.nodeid for t in tests],
        "repo": repo,
        "journaled": True,
    }
    if registry.get(STREAM_AGENT) is not None:
        registry.post(STREAM_AGENT, "ci_result", answer)
    log.info("CI event journaled: %s", event.summary())
    return answer
