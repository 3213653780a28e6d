"""Every rendered object is valid Kubernetes (strict schemas of 1.30 and 1.33), and the
properties that matter hold: probes, resources, non-root, RBAC for Jobs, no secret in a
ConfigMap, passwords kept across upgrades."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

from tests.helm.conftest import EXTERNAL_DB
from tests.helm.helm_cli import CHART, NAMESPACE, Helm, find, sets, values_file

MONITORING = "monitoring.coreos.com/v1"
K8S_VERSIONS = ["1.30", "1.33"]
CONFIGS: dict[str, list[str]] = {
    "default": [],
    "dev": ["-f", str(values_file("dev"))],
    "prod": ["-f", str(values_file("prod")), "--api-versions", MONITORING],
    "external-db": [arg for item in EXTERNAL_DB for arg in ("--set", item)],
    "read-token-existing-secrets": [
        *sets(
            "gateway.readToken.enabled=true",
            "gateway.readToken.existingSecret=gw-read",
            "gateway.token.existingSecret=gw",
            "postgresql.existingSecret=pg",
            "postgresql.persistence.enabled=false",
            "workspace.persistence.enabled=true",
            "workspace.persistence.existingClaim=clones",
        ),
    ],
}


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> dict[str, list[dict[str, Any]]]:
    return {name: helm.template(*args) for name, args in CONFIGS.items()}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in {"Deployment", "StatefulSet", "Job"}:
        spec: dict[str, Any] = obj["spec"]["template"]["spec"]
        return spec
    return None


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_is_strictly_valid(
    rendered: dict[str, list[dict[str, Any]]], config: str, version: str
) -> None:
    for obj in rendered[config]:
        if obj["apiVersion"] == MONITORING:
            continue  # not a core schema: checked by its own model below
        kubernetes_validate.validate(obj, version, strict=True)


def test_service_monitor_only_with_the_crd_and_valid_by_its_model(helm: Helm) -> None:
    enabled = ["--set", "metrics.serviceMonitor.enabled=true"]
    assert not [o for o in helm.template(*enabled) if o["kind"] == "ServiceMonitor"]
    objects = helm.template(*enabled, "--api-versions", MONITORING)
    (monitor,) = [o for o in objects if o["kind"] == "ServiceMonitor"]
    model = ServiceMonitor.model_validate(monitor)
    # The model ignores unknown keys: a round trip that loses one is a typo in the template.
    assert model.model_dump(mode="json", by_alias=True, exclude_none=True) == monitor
    gateway_service = find(objects, "Service", "kg-kgents-gateway")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        gateway_service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_pod_is_non_root_with_resources_and_probes(
    rendered: dict[str, list[dict[str, Any]]], config: str
) -> None:
    pods = [(o, spec) for o in rendered[config] if (spec := pod_spec(o)) is not None]
    assert len(pods) >= 5
    for obj, spec in pods:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
            assert "memory" in container["resources"]["limits"], where
            if obj["kind"] != "Job":  # long-running: Kubernetes must know when it is sick
                assert "livenessProbe" in container and "readinessProbe" in container, where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: /tmp must be writable on a read-only root"


def test_daemon_is_single_and_recreated(rendered: dict[str, list[dict[str, Any]]]) -> None:
    daemon = find(rendered["prod"], "Deployment", "kg-kgents-daemon")
    assert daemon["spec"]["replicas"] == 1
    assert daemon["spec"]["strategy"] == {"type": "Recreate"}


def test_role_allows_exactly_what_the_run_launcher_does(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["default"]
    role = find(objects, "Role", "kg-kgents-run-launcher")
    rules = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert {"create", "get", "list", "watch", "delete"} == rules[("batch", "jobs")]
    assert {"get", "list", "watch"} == rules[("", "pods")]
    assert {"get"} == rules[("", "pods/log")]
    assert "list" in rules[("", "events")]
    assert not any("*" in verbs for verbs in rules.values())
    binding = find(objects, "RoleBinding", "kg-kgents-run-launcher")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kg-kgents", "namespace": NAMESPACE}
    ]
    for name in ("kg-kgents-daemon", "kg-kgents-webserver"):
        deployment = find(objects, "Deployment", name)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "kg-kgents"


@pytest.mark.parametrize("config", list(CONFIGS))
def test_no_secret_value_is_rendered_into_a_config_map(
    rendered: dict[str, list[dict[str, Any]]], config: str
) -> None:
    objects = rendered[config]
    secret_values = [
        base64.b64decode(value).decode()
        for obj in objects
        if obj["kind"] == "Secret"
        for value in obj.get("data", {}).values()
    ]
    for obj in objects:
        if obj["kind"] != "ConfigMap":
            continue
        text = yaml.safe_dump(obj["data"])
        for value in secret_values:
            assert value not in text, f"a Secret value is in ConfigMap {obj['metadata']['name']}"
        # A URL with credentials would be one too; the password only ever comes from env.
        assert "$(DAGSTER_PG_PASSWORD)@" not in text or obj["metadata"]["name"].endswith(
            ("-instance", "-migrate")
        )
        assert "password:\n" not in text or "env: DAGSTER_PG_PASSWORD" in text


def test_database_url_is_built_from_the_secret_in_every_container(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for obj in rendered["external-db"]:
        spec = pod_spec(obj)
        if spec is None:
            continue
        env = spec["containers"][0]["env"]
        names = [e["name"] for e in env]
        password = env[names.index("DAGSTER_PG_PASSWORD")]
        assert password["valueFrom"]["secretKeyRef"] == {
            "name": "kgents-db",
            "key": "postgresql-password",
        }
        url = env[names.index("KGENTS_DATABASE_URL")]["value"]
        assert names.index("DAGSTER_PG_PASSWORD") < names.index("KGENTS_DATABASE_URL")
        assert url == (
            "postgresql://kgents:$(DAGSTER_PG_PASSWORD)@db.example.internal:5432/kgents"
            "?sslmode=require"
        )


def test_generated_passwords_use_lookup_so_upgrades_keep_them(helm: Helm) -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "Secret"' in helpers
    for template in ("postgresql.yaml", "gateway.yaml"):
        assert "kgents.keptSecretValue" in (CHART / "templates" / template).read_text()
    # Without a cluster, lookup finds nothing: each render generates a new password.
    first = find(helm.template(), "Secret", "kg-kgents-postgresql")["data"]
    second = find(helm.template(), "Secret", "kg-kgents-postgresql")["data"]
    assert first["postgresql-password"] != second["postgresql-password"]
    assert len(base64.b64decode(first["postgresql-password"])) == 32


def test_migration_job_is_a_hook_before_the_app(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    external = find(rendered["external-db"], "Job", "kg-kgents-migrate")
    assert external["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    bundled = find(rendered["dev"], "Job", "kg-kgents-migrate")
    assert bundled["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    script = bundled["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert script.splitlines()[:2] == ["kg admin migrate", "dagster instance migrate"]
    assert 'kg repo add "$KGENTS_REPO_0_NAME" "$KGENTS_REPO_0_URL" --branch' in script
    env = {
        e["name"]: e.get("value")
        for e in bundled["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["KGENTS_REPO_0_NAME"] == "itsdangerous"
    assert env["KGENTS_REPO_0_BRANCH"] == "main"


def test_gateway_tokens_and_exposure(rendered: dict[str, list[dict[str, Any]]]) -> None:
    prod = rendered["prod"]
    gateway = find(prod, "Deployment", "kg-kgents-gateway")
    assert gateway["spec"]["replicas"] == 3
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["KGENTS_GATEWAY_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "token"
    assert env["KGENTS_GATEWAY_READ_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "read-token"
    assert env["KGENTS_GATEWAY_SHARED_STREAMS"]["value"] == "true"
    assert container["command"][:2] == ["kg", "gateway"]
    assert container["command"][2:4] == ["--host", "0.0.0.0"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["ports"] == [{"name": "http", "containerPort": 8765}]
    assert find(prod, "PodDisruptionBudget", "kg-kgents-gateway")["spec"]["minAvailable"] == 2
    ingress = find(prod, "Ingress", "kg-kgents-gateway")
    assert ingress["spec"]["tls"][0]["secretName"] == "kgents-tls"
    default_env = {
        e["name"]
        for e in find(rendered["default"], "Deployment", "kg-kgents-gateway")["spec"]["template"][
            "spec"
        ]["containers"][0]["env"]
    }
    assert "KGENTS_GATEWAY_READ_TOKEN" not in default_env
    existing = rendered["read-token-existing-secrets"]
    assert not [o for o in existing if o["kind"] == "Secret"]  # every secret is the user's


def test_dashboard_config_map_is_labelled_for_grafana(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    dashboard = find(rendered["default"], "ConfigMap", "kg-kgents-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert '"uid": "kgents-overview"' in dashboard["data"]["kgents.json"]


def test_only_pods_with_an_api_token_load_the_run_launcher(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """K8sRunLauncher loads the in-cluster config (a service-account token) as soon as the
    instance builds it: a pod without a token must mount the storage-only instance."""
    objects = rendered["prod"]
    launcher_yaml = find(objects, "ConfigMap", "kg-kgents-instance")["data"]["dagster.yaml"]
    storage_yaml = find(objects, "ConfigMap", "kg-kgents-instance-storage")["data"]["dagster.yaml"]
    migrate_yaml = find(objects, "ConfigMap", "kg-kgents-migrate")["data"]["dagster.yaml"]
    assert "K8sRunLauncher" in launcher_yaml
    assert "K8sRunLauncher" not in storage_yaml and "K8sRunLauncher" not in migrate_yaml
    assert launcher_yaml.startswith(storage_yaml.rstrip("\n").split("# Run pods")[0])
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        instance = [v for v in spec["volumes"] if v["name"] == "dagster-instance"]
        if not instance:
            continue  # Postgres
        loads_launcher = instance[0]["configMap"]["name"] == "kg-kgents-instance"
        has_token = spec.get("automountServiceAccountToken", True) and spec.get(
            "serviceAccountName"
        )
        assert bool(loads_launcher) == bool(has_token), obj["metadata"]["name"]
