from __future__ import annotations

from sensors.debounce import Debouncer
from sensors.events import (
    FileCreated,
    FileDeleted,
    FileModified,
    FileRenamed,
    GitCommit,
    RescanRequested,
)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_quiet_period_closes_the_set() -> None:
    clock = Clock()
    d = Debouncer(quiet_s=0.2, max_wait_s=5, clock=clock)
    assert d.deadline() is None and not d.ready()
    d.add(FileModified(path="a.py"))
    clock.t += 0.1
    d.add(FileModified(path="a.py"))
    assert d.deadline() == clock.t + 0.2
    clock.t += 0.19
    assert not d.ready()
    clock.t += 0.02
    assert d.ready()
    cs = d.flush()
    assert cs is not None and cs.paths == ("a.py",) and cs.raw_count == 2
    assert [e.kind for e in cs.events] == ["file_modified"]
    assert d.flush() is None


def test_max_wait_bounds_an_endless_trickle() -> None:
    clock = Clock()
    d = Debouncer(quiet_s=0.2, max_wait_s=1.0, clock=clock)
    for i in range(20):
        d.add(FileModified(path=f"f{i}.py"))
        clock.t += 0.1
    assert d.ready()  # never quiet, but open for 2 s > max_wait


def test_created_and_deleted_within_window_is_no_event_but_path_is_kept() -> None:
    d = Debouncer(clock=Clock())
    d.add(FileCreated(path="scratch.py"))
    d.add(FileModified(path="scratch.py"))
    d.add(FileDeleted(path="scratch.py"))
    cs = d.flush()
    assert cs is not None
    assert cs.events == ()
    assert cs.paths == ("scratch.py",)  # the run stats it and finds nothing: safe


def test_deleted_then_created_is_a_modification() -> None:
    d = Debouncer(clock=Clock())
    d.add(FileDeleted(path="a.py"))
    d.add(FileCreated(path="a.py"))
    cs = d.flush()
    assert cs is not None and [e.kind for e in cs.events] == ["file_modified"]


def test_rename_touches_both_paths_and_survives_an_edit() -> None:
    d = Debouncer(clock=Clock())
    d.add(FileRenamed(old_path="old.py", path="new.py"))
    d.add(FileModified(path="new.py"))
    cs = d.flush()
    assert cs is not None
    assert cs.paths == ("new.py", "old.py")
    (event,) = cs.events
    assert isinstance(event, FileRenamed) and event.old_path == "old.py"


def test_git_events_first_and_tag_source() -> None:
    clock = Clock()
    d = Debouncer(clock=clock)
    d.add(FileModified(path="a.py"))
    d.add(GitCommit(sha="a" * 40, message="first", changed_paths=("a.py", "b.py")))
    clock.t += 1
    d.add(GitCommit(sha="b" * 40, message="second", changed_paths=("c.py",)))
    cs = d.flush()
    assert cs is not None
    assert [e.kind for e in cs.events] == ["git_commit", "git_commit", "file_modified"]
    assert cs.paths == ("a.py", "b.py", "c.py")
    git = cs.git_event
    assert isinstance(git, GitCommit) and git.message == "second"


def test_rescan_flag_and_stable_run_key() -> None:
    def build(paths: list[str]) -> str:
        d = Debouncer(clock=Clock())
        for p in paths:
            d.add(FileModified(path=p))
        cs = d.flush()
        assert cs is not None
        return cs.run_key

    assert build(["a.py", "b.py"]) == build(["b.py", "a.py"])
    assert build(["a.py"]) != build(["a.py", "b.py"])
    d = Debouncer(clock=Clock())
    d.add(RescanRequested(reason="overflow", absorbed={"file_modified": 3}))
    cs = d.flush()
    assert cs is not None and cs.rescan
