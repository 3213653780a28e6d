"""`kg` starts without importing what it does not run (regression tests, not timings).

Each check runs in a fresh interpreter, as a user's `kg` does: what a command imports is
what `sys.modules` holds after it. `bench/cli_start_bench.py` has the timings.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kgents_assets.cli._lazy import LazyGroup, load_command, static_help
from kgents_assets.cli.main import LAZY_GROUPS

KG = Path(sys.executable).parent / "kg"
ROOT = Path(__file__).resolve().parents[2]
#: heavy packages no start-up path may import: seconds between them
HEAVY = ("dagster", "psycopg", "psycopg2", "numpy", "tree_sitter", "torch", "sqlalchemy")


def modules_after(argv: list[str], tmp_path: Path) -> tuple[str, set[str]]:
    """Run `kg argv` in a fresh interpreter; its output and the modules it had imported."""
    code = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        sys.argv = ["kg", *{argv!r}]
        from kgents_assets.cli.main import app
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                app()
            except SystemExit as exc:
                assert not exc.code, exc.code
        sys.stderr.write(json.dumps([out.getvalue(), sorted(sys.modules)]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "KGENTS_FIXTURES_DIR": str(tmp_path / "fixtures")},
        check=True,
    )
    output, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return output, set(modules)


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_importing_the_cli_imports_no_heavy_package(tmp_path: Path) -> None:
    code = "import sys, kgents_assets.cli.main; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    loaded = top_level(set(done.stdout.split()))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_help_lists_every_group_with_its_help_and_imports_none(tmp_path: Path) -> None:
    output, modules = modules_after(["--help"], tmp_path)
    commands = output.split("Commands:", 1)[1]
    listed = {line.split()[0] for line in commands.splitlines() if line.strip()}
    assert listed == set(LAZY_GROUPS)
    for name, target in LAZY_GROUPS.items():
        help_line = next(ln for ln in commands.splitlines() if ln.split()[:1] == [name])
        # the listing's text (read from source) is the help the module gives, as loaded
        assert load_command(name, target).name == name
        module, _, attribute = target.partition(":")
        obj = getattr(importlib.import_module(module), attribute, None)
        if isinstance(obj, typer.Typer):
            loaded = obj.info.help
        else:
            loaded = inspect.getdoc(obj or getattr(importlib.import_module(module), name))
        assert isinstance(loaded, str) and loaded
        assert static_help(name, target) == loaded
        assert help_line.split(None, 1)[1][:20] == " ".join(loaded.split())[:20]
    group_modules = {t.partition(":")[0] for t in LAZY_GROUPS.values()}
    assert not modules & group_modules, modules & group_modules
    assert not top_level(modules) & {*HEAVY, "rich", "pydantic"}


def test_help_through_the_installed_script(tmp_path: Path) -> None:
    done = subprocess.run([str(KG), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in LAZY_GROUPS:
        assert f"\n  {name} " in done.stdout


def test_fixture_list_imports_only_what_it_prints_with(tmp_path: Path) -> None:
    output, modules = modules_after(["fixture", "list"], tmp_path)
    assert "flux_states/demo" in output and "MISSING" in output
    # neither Rich, nor pydantic (Typer's coercion of the unused --dir), nor filelock
    unwanted = {*HEAVY, "rich", "pydantic", "filelock", "asyncio"}
    assert not top_level(modules) & unwanted, top_level(modules) & unwanted


def test_an_option_given_a_value_is_still_coerced_by_typer(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    output, modules = modules_after(["fixture", "list", "--dir", str(other)], tmp_path)
    assert f"fixtures in {Path('elsewhere')}" in output  # a Path, shown relative to cwd
    assert "pydantic" in top_level(modules)  # Typer's own coercion did the work


@pytest.fixture
def hub_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module that still has `kg hub` as a plain function, not a `hub_app` group."""
    (tmp_path / "old_style_hub.py").write_text(
        textwrap.dedent(
            '''
            """Old-style hub module."""
            from pathlib import Path
            import typer

            def hub(
                path: Path = typer.Argument(Path()), once: bool = typer.Option(False, "--once")
            ) -> None:
                """Model a repository once."""
                typer.echo(f"once={once} path={path}")
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "old_style_hub"


def test_a_group_entry_falls_back_to_the_function_named_like_the_group(hub_module: str) -> None:
    class Group(LazyGroup):
        registry = {"hub": f"{hub_module}:hub_app"}

    app = typer.Typer(cls=Group)

    @app.callback()
    def main() -> None:
        """Test CLI."""

    runner = CliRunner()
    result = runner.invoke(app, ["hub", "--once", "some/repo"])
    assert result.exit_code == 0, result.output
    assert "once=True path=some/repo" in result.output
    assert static_help("hub", f"{hub_module}:hub_app") == "Model a repository once."
    listing = runner.invoke(app, ["--help"])
    assert "Model a repository once." in listing.output


def test_hub_once_and_watch_still_parse(tmp_path: Path) -> None:
    """`kg hub --once PATH` reaches the hub (a path that is no directory is its clear error)."""
    missing = tmp_path / "no-such-repo"
    for flag in ("--once", "--watch"):
        done = subprocess.run(
            [str(KG), "hub", flag, str(missing)], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "no-such-repo" in done.stdout + done.stderr
