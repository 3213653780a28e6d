"""The filesystem translator on real files (what watchfiles reports -> events)."""

from __future__ import annotations

from pathlib import Path

from watchfiles import Change

from sensors.events import FileCreated, FileDeleted, FileModified, RescanRequested
from sensors.fs_source import FileEventTranslator
from sensors.git_source import GitRepo


def test_batch_order_is_lost_so_existence_decides(tmp_path: Path) -> None:
    t = FileEventTranslator(tmp_path)
    (tmp_path / "kept.py").write_text("x = 1\n")
    events, git_moved = t.translate(
        {
            (Change.added, str(tmp_path / "gone.py")),
            (Change.deleted, str(tmp_path / "gone.py")),
            (Change.deleted, str(tmp_path / "kept.py")),
            (Change.added, str(tmp_path / "kept.py")),
            (Change.modified, str(tmp_path / "kept.py")),
        }
    )
    assert not git_moved
    assert events[0] == FileDeleted(
        path="gone.py", transient=True, at=events[0].at, source="filesystem"
    )
    assert isinstance(events[1], FileModified) and events[1].path == "kept.py"


def test_filter_skips_ignored_unsupported_and_git_internals(tmp_path: Path, git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("generated/\n")
    t = FileEventTranslator(git_repo, GitRepo.open(git_repo))
    assert t.wants(Change.modified, str(git_repo / "src" / "a.py"))
    assert not t.wants(Change.modified, str(git_repo / "generated" / "a.py"))
    assert not t.wants(Change.modified, str(git_repo / ".agentfs" / "nodes" / "a.md"))
    assert not t.wants(Change.modified, str(git_repo / ".venv" / "lib" / "x.py"))
    assert not t.wants(Change.modified, str(git_repo / "README.txt"))
    assert t.wants(Change.modified, str(git_repo / ".git" / "HEAD"))
    assert not t.wants(Change.modified, str(git_repo / ".git" / "objects" / "ab" / "cd"))
    assert not t.wants(Change.modified, str(tmp_path / "elsewhere.py"))
    _, git_moved = t.translate({(Change.modified, str(git_repo / ".git" / "HEAD"))})
    assert git_moved


def test_directory_moved_in_lists_its_files_and_moved_out_rescans(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "incoming" / "sub").mkdir(parents=True)
    (repo / "incoming" / "a.py").write_text("a = 1\n")
    (repo / "incoming" / "sub" / "b.ts").write_text("export const b = 1;\n")
    (repo / "incoming" / "notes.md").write_text("# no\n")
    (repo / "incoming" / "node_modules").mkdir()
    (repo / "incoming" / "node_modules" / "dep.js").write_text("x\n")
    t = FileEventTranslator(repo)
    events, _ = t.translate({(Change.added, str(repo / "incoming"))})
    assert [(type(e), e.path) for e in events if isinstance(e, FileCreated)] == [
        (FileCreated, "incoming/a.py"),
        (FileCreated, "incoming/sub/b.ts"),
    ]
    events, _ = t.translate({(Change.deleted, str(repo / "olddir"))})
    assert len(events) == 1 and isinstance(events[0], RescanRequested)


def test_gitignore_change_reloads_rules_and_rescans(tmp_path: Path) -> None:
    t = FileEventTranslator(tmp_path)
    assert t.wants(Change.modified, str(tmp_path / "gen" / "a.py"))
    (tmp_path / ".gitignore").write_text("gen/\n")
    events, _ = t.translate({(Change.modified, str(tmp_path / ".gitignore"))})
    assert isinstance(events[0], RescanRequested)
    assert not t.wants(Change.modified, str(tmp_path / "gen" / "a.py"))
