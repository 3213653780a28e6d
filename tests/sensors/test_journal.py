from __future__ import annotations

from kgents_assets.store import Store
from sensors.events import FileModified, GitCommit, TestFailed, parse_event
from sensors.journal import EventJournal


def test_append_and_resume_from_cursor_across_instances(store: Store) -> None:
    journal = EventJournal(store)
    seqs = journal.append_many(
        [FileModified(path=f"f{i}.py") for i in range(3)]
        + [TestFailed(nodeid="t.py::test_a", session_id="s", message="boom")]
    )
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    cursor = seqs[1]
    # A "restarted" reader: a fresh journal object on the same store, only the cursor kept.
    later = EventJournal(Store(url=store.url)).read_after(cursor)
    assert [e.seq for e in later] == seqs[2:]
    assert later[-1].event == TestFailed(
        nodeid="t.py::test_a", session_id="s", message="boom", at=later[-1].event.at
    )
    failures = journal.read_after(0, kinds=["test_failed"])
    assert [e.seq for e in failures] == [seqs[3]]
    assert journal.read_after(seqs[-1]) == []
    assert journal.last_seq() == seqs[-1]


def test_large_batches_and_limit(store: Store) -> None:
    journal = EventJournal(store)
    seqs = journal.append_many([FileModified(path=f"d/{i}.py") for i in range(2500)])
    assert len(seqs) == 2500
    page = journal.read_after(0, limit=1000)
    assert len(page) == 1000 and page[-1].seq == seqs[999]


def test_rows_from_another_version_are_skipped_not_blocking(store: Store) -> None:
    journal = EventJournal(store)
    first = journal.append(FileModified(path="a.py"))
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO sensor_events (kind, priority, key, source, occurred_at, payload) "
            "VALUES ('future_kind', 1, 'k', 's', now(), '{\"kind\": \"future_kind\"}')"
        )
    last = journal.append(GitCommit(sha="a" * 40))
    assert [e.seq for e in journal.read_after(0)] == [first, last]


def test_event_json_round_trip() -> None:
    event = GitCommit(sha="b" * 40, message="m", changed_paths=("a.py",), branch="main")
    assert parse_event(event.model_dump(mode="json")) == event
