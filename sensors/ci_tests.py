"""A CI result together with the tests it saw fail, as journal events.

A CI payload (see ``sensors.ci_webhook``) may carry a ``failed_tests`` list, e.g. from the
job's junit report::

    "failed_tests": ["tests/test_x.py::test_a",
                     {"nodeid": "tests/test_y.py::TestB::test_c", "message": "assert 1 == 2"}]

Each becomes a ``TestFailed`` event (source ``ci-webhook``, session = the CI run), so the
test-failure sensor, which reads ``test_failed`` entries, treats a test that failed in CI
exactly like one that failed on a laptop. The CI event and its tests are validated
together and journaled in one transaction: a bad entry refuses the whole payload.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from kgents_assets.repos.registry import find_repository
from kgents_assets.store import Store
from sensors.ci_webhook import SOURCE, InvalidCIPayload, parse_ci_payload
from sensors.events import CIJobEvent, CIWorkflowEvent, TestFailed
from sensors.journal import EventJournal

MAX_FAILED_TESTS = 1000
MAX_TEXT = 20_000  # per message/longrepr: a CI log tail, not the whole log

CIEvent = CIWorkflowEvent | CIJobEvent


def _session(event: CIEvent) -> str:
    job = f":{event.job_id}" if isinstance(event, CIJobEvent) else ""
    return f"ci:{event.provider}:{event.run_id}{job}"


def parse_failed_tests(payload: dict[str, Any], event: CIEvent) -> list[TestFailed]:
    raw = payload.get("failed_tests")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidCIPayload("failed_tests must be a list of pytest node ids or objects")
    if len(raw) > MAX_FAILED_TESTS:
        raise InvalidCIPayload(
            f"failed_tests lists {len(raw)} tests; at most {MAX_FAILED_TESTS} per payload"
        )
    out: list[TestFailed] = []
    for i, item in enumerate(raw):
        data = {"nodeid": item} if isinstance(item, str) else item
        if not isinstance(data, dict):
            raise InvalidCIPayload(f"failed_tests[{i}]: expected a node id or an object")
        try:
            out.append(
                TestFailed(
                    nodeid=data.get("nodeid", ""),
                    session_id=_session(event),
                    message=str(data.get("message") or "")[:MAX_TEXT],
                    longrepr=str(data.get("longrepr") or "")[:MAX_TEXT],
                    source=SOURCE,
                    at=event.at,
                )
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidCIPayload(f"failed_tests[{i}]: {problems}") from None
    return out


def record_ci_result(
    store: Store, payload: dict[str, Any], repo: str | None = None
) -> tuple[CIEvent, list[TestFailed]]:
    """Validate a CI payload and its failed tests, then journal them together (as events
    of repository ``repo`` when given: it must be registered).

    Raises ``InvalidCIPayload`` and journals nothing when any part is invalid.
    """
    event = parse_ci_payload(payload)
    tests = parse_failed_tests(payload, event)
    with store.transaction() as conn:
        if repo is not None and find_repository(conn, repo) is None:
            known = [r[0] for r in conn.execute("SELECT name FROM repositories ORDER BY name")]
            raise InvalidCIPayload(
                f"unknown repository {repo!r}; known: {', '.join(known) or 'none'}"
            )
        EventJournal(store).append_many([event, *tests], conn, repo=repo)
    return event, tests
