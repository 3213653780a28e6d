"""On a real cluster (KUBECONFIG set): install the chart, then materialize one repository as
a Kubernetes Job and see its refresh recorded. helm/README.md says how to run it on kind.

Environment: KUBECONFIG (required), KGENTS_TEST_IMAGE (default kgents/kgents-assets:dev,
loaded into the cluster beforehand), KGENTS_TEST_NAMESPACE (default kgents-test).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helm.helm_cli import CHART, Helm, obtain_kubectl, values_file

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        not os.environ.get("KUBECONFIG"), reason="needs KUBECONFIG (a real cluster)"
    ),
]
REPO = "itsdangerous"  # the repository values-dev.yaml registers


def kubectl(namespace: str, *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(obtain_kubectl()), "-n", namespace, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture
def release(helm: Helm) -> Iterator[str]:
    namespace = os.environ.get("KGENTS_TEST_NAMESPACE", "kgents-test")
    repository, _, tag = os.environ.get("KGENTS_TEST_IMAGE", "kgents/kgents-assets:dev").rpartition(
        ":"
    )
    helm.run(
        "upgrade",
        "--install",
        "kgents",
        str(CHART),
        "-n",
        namespace,
        "--create-namespace",
        "-f",
        str(values_file("dev")),
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.tag={tag}",
        "--set",
        "postgresql.persistence.enabled=false",
        "--wait",
        "--timeout",
        "15m",
    )
    try:
        yield namespace
    finally:
        helm.run("uninstall", "kgents", "-n", namespace, "--wait", check=False)
        # The password Secret is kept on uninstall by design; a test namespace goes whole.
        subprocess.run(
            [str(obtain_kubectl()), "delete", "namespace", namespace, "--wait=false"],
            capture_output=True,
            timeout=120,
        )


def test_install_and_materialize_one_repository_as_a_job(release: str, tmp_path: Path) -> None:
    namespace = release
    listed = kubectl(
        namespace, "exec", "deploy/kgents-gateway", "--", "kg", "repo", "list", "--json"
    )
    assert REPO in listed

    # Submitted through the instance: queued, dequeued by the daemon, launched as a Job.
    run_tag = uuid.uuid4().hex[:8]
    tags = json.dumps({"dagster/partition": REPO, "kgents/test": run_tag})
    kubectl(
        namespace,
        "exec",
        "deploy/kgents-daemon",
        "--",
        "dagster",
        "job",
        "launch",
        "-w",
        "/opt/dagster/app/workspace.yaml",
        "-l",
        "kgents_assets",
        "-j",
        "materialize_all",
        "--tags",
        tags,
    )
    deadline = time.monotonic() + 900
    selector = "app.kubernetes.io/component=run_worker"
    while True:
        jobs = json.loads(kubectl(namespace, "get", "jobs", "-l", selector, "-o", "json"))["items"]
        done = [j for j in jobs if j.get("status", {}).get("succeeded")]
        failed = [j for j in jobs if j.get("status", {}).get("failed")]
        assert not failed, kubectl(namespace, "logs", f"job/{failed[0]['metadata']['name']}")
        if done:
            break
        assert time.monotonic() < deadline, f"no run Job succeeded: {jobs}"
        time.sleep(5)

    refreshed = json.loads(
        kubectl(namespace, "exec", "deploy/kgents-gateway", "--", "kg", "repo", "list", "--json")
    )
    (entry,) = [r for r in refreshed if r["name"] == REPO]
    assert entry["last_refresh_at"] is not None
