from __future__ import annotations

from pathlib import Path

from kgents_assets.hub.ignore import IgnoreRules


def test_gitignore_nested_gitignores_and_built_in_rules(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\nsecret/\n/generated.py\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("gen_*.py\n")
    (tmp_path / "myenv").mkdir()
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    rules = IgnoreRules.for_repo(tmp_path)
    ignored = [
        "x.log",
        "secret/a.py",
        "generated.py",
        "pkg/gen_a.py",
        "myenv/lib/x.py",
        ".git/config",
        ".agentfs/nodes/a.md",
        "node_modules/x/index.js",
        ".venv/bin/x.py",
        "web/dist/bundle.js",
        "src/pkg.egg-info/PKG-INFO",
        "a/__pycache__/m.py",
    ]
    kept = ["a.py", "pkg/generated.py", "gen_a.py", "pkg/sub/gen.py", "src/app.ts"]
    assert [p for p in ignored if not rules.is_ignored(p)] == []
    assert [p for p in kept if rules.is_ignored(p)] == []
    assert rules.is_ignored("secret", is_dir=True)
