"""What `markdown_in_sync` sees on disk: every markdown file under .agentfs/nodes, named
relative to the repository root, and nothing else."""

from __future__ import annotations

from pathlib import Path

from kgents_assets.hub.integrity import markdown_on_disk
from kgents_assets.hub.markdown import NODES_DIR


def test_markdown_on_disk_lists_md_files_relative_to_the_root(tmp_path: Path) -> None:
    nodes = tmp_path / NODES_DIR
    for rel in ("pkg/mod.py/a.md", "pkg/sub/deep.py/b.md", "top.py/c.md"):
        (nodes / rel).parent.mkdir(parents=True, exist_ok=True)
        (nodes / rel).write_text("x")
    (nodes / "pkg/mod.py/notes.txt").write_text("not markdown")
    (nodes / "pkg/dir.md").mkdir()  # a directory is not a file, whatever its name

    assert markdown_on_disk(tmp_path, nodes) == {
        f"{NODES_DIR}/pkg/mod.py/a.md",
        f"{NODES_DIR}/pkg/sub/deep.py/b.md",
        f"{NODES_DIR}/top.py/c.md",
    }


def test_no_nodes_directory_means_no_markdown(tmp_path: Path) -> None:
    assert markdown_on_disk(tmp_path, tmp_path / NODES_DIR) == set()
