"""`helm lint --strict` on every shipped values set; bad values fail with Helm's message."""

from __future__ import annotations

import time

import pytest

from tests.helm.conftest import EXTERNAL_DB
from tests.helm.helm_cli import CHART, Helm, values_file


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-f", str(values_file("dev"))],
        ["-f", str(values_file("prod"))],
        [arg for item in EXTERNAL_DB for arg in ("--set", item)],
    ],
    ids=["default", "dev", "prod", "external-db"],
)
def test_lint_strict_passes(helm: Helm, args: list[str]) -> None:
    result = helm.lint(*args)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["gateway.replicas=0"], "gateway.replicas: Must be greater than or equal to 1"),
        (
            ["gateway.replicas=two"],
            "gateway.replicas: Invalid type. Expected: integer, given: string",
        ),
        (
            ["postgresql.persistance.enabled=false"],
            "postgresql: Additional property persistance is not allowed",
        ),
        (
            ["image.pullPolicy=Sometimes"],
            'image.pullPolicy must be one of the following: "Always", "IfNotPresent", "Never"',
        ),
        (
            ["repositories[0].name=bad/name", "repositories[0].url=x"],
            "repositories.0.name: Does not match pattern",
        ),
        (
            ["dagster.runLauncher.resources.limits.memory=lots"],
            "dagster.runLauncher.resources.limits.memory: Does not match pattern",
        ),
    ],
    ids=["replicas-min", "replicas-type", "typo", "pull-policy", "repo-name", "quantity"],
)
def test_values_that_break_the_schema_fail_with_helms_message(
    helm: Helm, sets: list[str], message: str
) -> None:
    result = helm.lint(*[arg for item in sets for arg in ("--set", item)], check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "values don't meet the specifications of the schema" in output
    assert message in output, output


def test_an_external_database_without_its_secret_is_refused(helm: Helm) -> None:
    # `helm lint` downgrades `required` to an INFO line; install and template refuse.
    result = helm.run(
        "template",
        "kg",
        str(CHART),
        "--set",
        "postgresql.enabled=false",
        "--set",
        "externalDatabase.host=db",
        check=False,
    )
    assert result.returncode != 0
    assert "postgresql.enabled=false needs externalDatabase.existingSecret" in result.stderr


def test_render_and_lint_time(helm: Helm) -> None:
    """Figures for the report; generous bounds so a loaded CI machine does not flake."""
    start = time.perf_counter()
    helm.template("-f", str(values_file("prod")), "--api-versions", "monitoring.coreos.com/v1")
    render_s = time.perf_counter() - start
    start = time.perf_counter()
    helm.lint("-f", str(values_file("prod")))
    lint_s = time.perf_counter() - start
    print(f"helm template {render_s * 1000:.0f} ms, helm lint --strict {lint_s * 1000:.0f} ms")
    assert render_s < 10 and lint_s < 10
