from __future__ import annotations

import pytest

from kgents_assets.store import Store
from sensors.ci_webhook import InvalidCIPayload, record_ci_event
from sensors.events import CIJobEvent, CIWorkflowEvent, Priority
from sensors.journal import EventJournal

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_github_workflow_job_failure_is_critical_and_journaled(store: Store) -> None:
    payload = {
        "action": "completed",
        "workflow_job": {
            "id": 991,
            "run_id": 55,
            "workflow_name": "tests",
            "name": "pytest (3.11)",
            "status": "completed",
            "conclusion": "failure",
            "head_sha": SHA,
            "head_branch": "main",
            "html_url": "https://github.com/o/r/actions/runs/55/job/991",
            "steps": [
                {"name": "checkout", "conclusion": "success"},
                {"name": "pytest", "conclusion": "failure"},
            ],
        },
    }
    event = record_ci_event(store, payload)
    assert isinstance(event, CIJobEvent)
    assert event.priority == Priority.CRITICAL and event.failed_steps == ("pytest",)
    (entry,) = EventJournal(store).read_after(0)
    assert entry.event == event


def test_github_workflow_run_success_and_generic_form(store: Store) -> None:
    ok = record_ci_event(
        store,
        {
            "workflow_run": {
                "id": 7,
                "name": "ci",
                "status": "completed",
                "conclusion": "success",
                "head_sha": SHA,
            }
        },
    )
    assert isinstance(ok, CIWorkflowEvent) and ok.priority == Priority.NORMAL
    generic = record_ci_event(
        store,
        {
            "kind": "ci_workflow",
            "provider": "gitlab",
            "run_id": "42",
            "workflow": "tests",
            "status": "completed",
            "conclusion": "timed_out",
        },
    )
    assert generic.failed and generic.provider == "gitlab"
    assert EventJournal(store).count() == 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"hello": "world"}, "unrecognised CI payload"),
        ({"workflow_run": {"id": 1, "name": "ci", "status": "exploded"}}, "status"),
        ({"kind": "ci_job", "run_id": "1", "workflow": "w", "status": "completed"}, "job"),
        ({"workflow_run": {"id": 1, "name": "ci", "status": "completed", "head_sha": "zz"}}, "sha"),
    ],
)
def test_bad_payloads_are_refused_clearly_and_journal_nothing(
    store: Store, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidCIPayload, match=message):
        record_ci_event(store, payload)
    assert EventJournal(store).count() == 0
