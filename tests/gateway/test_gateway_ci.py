"""``POST /api/ci/events`` on the real server: GitHub deliveries (bearer token or signed
like GitHub signs them), the generic form with failed tests, and bad input that is
refused with the reason and journals nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
from gateway_testing import TOKEN, Gateway, serve_gateway

from gateway.settings import GatewaySettings
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from sensors.events import CIJobEvent, TestFailed
from sensors.journal import EventJournal

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SHA = "0123456789abcdef0123456789abcdef01234567"
URL = "/api/ci/events"

JOB_FAILED: dict[str, Any] = {
    "action": "completed",
    "workflow_job": {
        "id": 991, "run_id": 55, "workflow_name": "tests", "name": "pytest (3.11)",
        "status": "completed", "conclusion": "failure", "head_sha": SHA, "head_branch": "main",
        "html_url": "https://github.com/o/r/actions/runs/55/job/991",
        "steps": [{"name": "checkout", "conclusion": "success"},
                  {"name": "pytest", "conclusion": "failure"}],
    },
}  # fmt: skip


def signed(body: bytes, secret: str = TOKEN) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def ci_results(gateway: Gateway, http: httpx.Client) -> list[dict[str, Any]]:
    events = http.get("/api/daemon/snapshot", params={"events": 100}).json()["recent_events"]
    return [e["data"] for e in events if e["type"] == "ci_result"]


def test_github_job_failure_with_bearer_and_signature(gateway: Gateway, store: Store) -> None:
    journal = EventJournal(store)
    with httpx.Client(base_url=gateway.url) as http:
        answer = http.post(URL, json=JOB_FAILED, headers=AUTH)
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["priority"] == "CRITICAL" and body["failed"] is True
        assert body["summary"] == "CI tests/pytest (3.11) #55: failure"

        # As GitHub delivers it: no bearer header, the body signed with the shared secret.
        raw = json.dumps({"workflow_run": {"id": 56, "name": "tests", "status": "completed",
                                           "conclusion": "success", "head_sha": SHA}}).encode()  # fmt: skip
        headers = {**signed(raw), "X-GitHub-Event": "workflow_run"}
        answer = http.post(URL, content=raw, headers=headers)
        assert answer.status_code == 202 and answer.json()["priority"] == "NORMAL"

        # The gateway page's daemon stream shows both results.
        assert [r["key"] for r in ci_results(gateway, http)] == [
            "ci:github:55:991",
            "ci:github:56",
        ]
    first, second = journal.read_after(0)
    assert isinstance(first.event, CIJobEvent) and first.event.failed_steps == ("pytest",)
    assert second.event.kind == "ci_workflow"


def test_generic_form_with_failed_tests_feeds_the_test_failure_path(
    gateway: Gateway, store: Store
) -> None:
    payload = {
        "kind": "ci_job", "provider": "gitlab", "run_id": "42", "workflow": "tests",
        "job_id": "7", "job": "pytest", "status": "completed", "conclusion": "failure",
        "failed_tests": ["tests/test_a.py::test_one",
                         {"nodeid": "tests/test_b.py::TestB::test_two[x]",
                          "message": "assert 1 == 2", "longrepr": "E  assert 1 == 2"}],
    }  # fmt: skip
    with httpx.Client(base_url=gateway.url) as http:
        answer = http.post(URL, json=payload, headers=AUTH)
    assert answer.status_code == 202, answer.text
    assert answer.json()["failed_tests"] == [
        "tests/test_a.py::test_one",
        "tests/test_b.py::TestB::test_two[x]",
    ]
    # What the test-failure sensor reads: test_failed entries of the journal.
    failed = EventJournal(store).read_after(0, kinds=["test_failed"])
    assert [e.event.nodeid for e in failed] == answer.json()["failed_tests"]  # type: ignore[union-attr]
    assert {e.repo for e in failed} == {None}
    second = failed[1].event
    assert isinstance(second, TestFailed)
    assert second.message == "assert 1 == 2" and second.session_id == "ci:gitlab:42:7"
    assert second.source == "ci-webhook"


BAD: list[tuple[bytes, dict[str, str], int, str]] = [
    (b"{}", {}, 401, "missing or invalid bearer token"),
    (b"{}", {"Authorization": "Bearer wrong"}, 401, "invalid bearer token"),
    (b'{"a": 1}', signed(b'{"a": 2}'), 401, "does not match the body"),
    (b"{not json", AUTH, 422, "the body is not JSON"),
    (b"[1, 2]", AUTH, 422, "must be a JSON object"),
    (b'{"hello": "world"}', AUTH, 422, "unrecognised CI payload"),
    (
        json.dumps({"workflow_run": {"id": 1, "name": "ci", "status": "exploded"}}).encode(),
        AUTH, 422, "status",
    ),
    (
        json.dumps({**JOB_FAILED, "failed_tests": ["ok::test", {"message": "no id"}]}).encode(),
        AUTH, 422, "failed_tests[1]: nodeid",
    ),
    (b'{"ref": "main"}', {**AUTH, "X-GitHub-Event": "push"}, 422, "not a CI result"),
]  # fmt: skip


def test_bad_requests_are_refused_with_the_reason_and_journal_nothing(
    gateway: Gateway, store: Store
) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        for content, headers, code, reason in BAD:
            answer = http.post(URL, content=content, headers=headers)
            assert answer.status_code == code, (content, answer.text)
            assert reason in answer.json()["detail"], (content, answer.text)
        assert ci_results(gateway, http) == []
    assert EventJournal(store).count() == 0


def test_ping_and_size_limit(gateway: Gateway, store: Store) -> None:
    raw = b'{"zen": "Design for failure.", "hook_id": 1}'
    with httpx.Client(base_url=gateway.url) as http:
        pong = http.post(URL, content=raw, headers={**signed(raw), "X-GitHub-Event": "ping"})
        assert pong.status_code == 200 and pong.json() == {"pong": True, "journaled": False}
        huge = b'{"x": "' + b"a" * 5_000_001 + b'"}'
        assert http.post(URL, content=huge, headers=AUTH).status_code == 413
    assert EventJournal(store).count() == 0


def test_without_a_configured_token_ci_events_are_disabled(tmp_path: Path, store: Store) -> None:
    settings = GatewaySettings(repo_root=tmp_path, dagster_agents=False)
    with serve_gateway(settings, store) as gateway, httpx.Client(base_url=gateway.url) as http:
        answer = http.post(URL, json=JOB_FAILED, headers=AUTH)
    assert answer.status_code == 403 and "KGENTS_GATEWAY_TOKEN" in answer.json()["detail"]
    assert EventJournal(store).count() == 0


def test_events_filed_under_a_registered_repository(
    gateway: Gateway, store: Store, tmp_path: Path
) -> None:
    add_repository(store, "shop", str(tmp_path))
    with httpx.Client(base_url=gateway.url) as http:
        ok = http.post(URL, params={"repo": "shop"}, json=JOB_FAILED, headers=AUTH)
        assert ok.status_code == 202 and ok.json()["repo"] == "shop"
        unknown = http.post(URL, params={"repo": "nope"}, json=JOB_FAILED, headers=AUTH)
        assert unknown.status_code == 422
        assert unknown.json()["detail"] == "unknown repository 'nope'; known: shop"
    assert [e.repo for e in EventJournal(store).read_after(0)] == ["shop"]
