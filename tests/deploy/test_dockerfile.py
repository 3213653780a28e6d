"""Nothing builds the image here (no Docker): these checks hold the Dockerfile to what the
chart assumes of it (user, paths, commands) and to what it promises (frozen lock, no dev
dependencies, no compiler, a context without local state)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
STAGES = re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]
FINAL = STAGES[-1]


def instructions(stage: str) -> list[str]:
    """Logical lines (continuations joined), comments dropped."""
    text = re.sub(r"\\\n\s*", " ", stage)
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_multi_stage_with_a_frozen_no_dev_non_editable_sync() -> None:
    assert len(STAGES) >= 2
    builder = "\n".join(instructions(STAGES[-2]))
    syncs = [line for line in builder.splitlines() if "uv sync" in line]
    assert len(syncs) == 2  # dependencies layer, then the project
    for line in syncs:
        for flag in ("--frozen", "--no-dev", "--no-editable"):
            assert flag in line, line


def test_final_stage_runs_as_the_charts_non_root_user_without_build_tools() -> None:
    lines = instructions(FINAL)
    assert lines[0].startswith("${PYTHON_IMAGE}") or "python:3.11-slim" in lines[0]
    users = [line for line in lines if line.startswith("USER ")]
    assert users == ["USER 10001:10001"]
    chart_helpers = (ROOT / "helm" / "kgents" / "templates" / "_helpers.tpl").read_text()
    assert "runAsUser: 10001" in chart_helpers
    final = "\n".join(lines)
    for tool in ("gcc", "build-essential", "make ", "uv sync", "pip install"):
        assert tool not in final, tool
    assert "rm -rf /var/lib/apt/lists/*" in final
    assert "--no-install-recommends git" in final
    assert "COPY --from=builder /app/.venv /app/.venv" in final


def test_paths_and_commands_the_chart_uses_exist_in_the_image() -> None:
    final = "\n".join(instructions(FINAL))
    for path in ("/opt/dagster/dagster_home", "/opt/dagster/app", "/var/lib/kgents/workspace"):
        assert path in final
    assert "COPY fixtures /app/fixtures" in final
    env_map = yaml.safe_load(
        (ROOT / "helm" / "kgents" / "templates" / "configmaps.yaml")
        .read_text()
        .split("# Non-secret environment")[1]
        .split("---")[0]
        .split("\ndata:\n")[1]
    )
    for name, value in env_map.items():
        assert f"{name}={value}" in final, name
    # Every console script a container runs comes from the project's dependencies.
    bin_dir = Path(sys.executable).parent
    for command in ("kg", "dagster", "dagster-webserver", "dagster-daemon"):
        assert (bin_dir / command).exists(), command


def test_build_context_holds_only_what_is_copied() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"  # deny by default: no .venv, .git, .agentfs or secrets
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {
        source
        for line in instructions(STAGES[-2]) + instructions(FINAL)
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    }
    assert copied <= allowed, copied - allowed
    for path in copied:
        assert (ROOT / path).exists(), path
