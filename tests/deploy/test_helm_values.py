"""The chart's values: one definition (the pydantic models), a schema generated from it that
cannot drift, and shipped values files that all validate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kgents_assets.deploy.helm_values import HelmValues, render_schema, values_schema

CHART = Path(__file__).resolve().parents[2] / "helm" / "kgents"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of a values file over the defaults (maps merge, anything else replaces)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHART / name).read_text())
    return data


def test_committed_schema_is_generated_from_the_models() -> None:
    committed = (CHART / "values.schema.json").read_text()
    assert committed == render_schema(), (
        "helm/kgents/values.schema.json drifted from kgents_assets/deploy/helm_values.py; "
        "regenerate: uv run python -m kgents_assets.deploy.helm_values "
        "> helm/kgents/values.schema.json"
    )


def test_module_prints_the_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kgents_assets.deploy.helm_values"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == values_schema()


def test_values_yaml_defaults_are_the_models_defaults() -> None:
    assert load("values.yaml") == HelmValues().model_dump(by_alias=True, mode="json")


@pytest.mark.parametrize("overlay", ["values-dev.yaml", "values-prod.yaml"])
def test_shipped_values_files_validate(overlay: str) -> None:
    values = HelmValues.model_validate(deep_merge(load("values.yaml"), load(overlay)))
    assert values.image.repository


def test_every_value_in_values_yaml_is_documented() -> None:
    """Each value has a comment above it, or above one of its parent keys."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    parents: list[tuple[int, bool]] = []  # (indent, documented) of enclosing keys
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        commented = i > 0 and lines[i - 1].strip().startswith("#")
        documented = commented or any(doc for _, doc in parents)
        if not documented and not stripped.endswith(":"):
            undocumented.append(line)
        parents.append((indent, documented))
    assert not undocumented, "values without a comment above them:\n" + "\n".join(undocumented)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"postgresql": {"enabled": False}}, "needs externalDatabase.host"),
        ({"repositories": [{"name": "a", "url": "x"}, {"name": "a", "url": "y"}]}, "unique"),
        ({"repositories": [{"name": "a..b", "url": "x"}]}, "'..'"),
        ({"gateway": {"replica": 2}}, "Extra inputs are not permitted"),
        ({"gateway": {"resources": {"requests": {"memory": "1Gi"}}}}, "limits"),
    ],
)
def test_models_refuse_bad_values_with_a_reason(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HelmValues.model_validate(values)


def test_schema_is_strict_about_unknown_keys() -> None:
    schema = values_schema()
    assert schema["additionalProperties"] is False
    assert all(
        definition.get("additionalProperties") is False
        for definition in schema["$defs"].values()
        if definition.get("type") == "object"
    )
