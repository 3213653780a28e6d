"""The values of the ``helm/kgents`` chart, as pydantic models.

These models are the one definition of what a values file may hold: ``values.schema.json``
is generated from them (``python -m kgents_assets.deploy.helm_values``), so Helm refuses a
misspelt key or a wrong type at ``helm install`` time, before anything reaches a cluster.
Keys are camelCase, as in every Helm chart; unknown keys are errors, because a typo in a
values file that is silently ignored is the most common way a deployment drifts.

The chart's ``values.yaml`` holds the defaults and the comments a user reads; the models
hold the types and constraints. A test checks that every shipped values file validates.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from kgents_assets.repos.names import MAX_NAME, validate_repo_name

#: A Kubernetes quantity such as ``500m``, ``2``, ``512Mi`` or ``1Gi``.
Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")]
#: A DNS-1123 name (Secrets, ConfigMaps, namespaces, storage classes).
K8sName = Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$", max_length=253)]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"]


class Values(BaseModel):
    """Base of every section: camelCase keys, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class ResourceList(Values):
    cpu: Quantity | None = Field(default=None, description="CPU, e.g. 250m")
    memory: Quantity = Field(description="memory, e.g. 512Mi")


class Resources(Values):
    """Requests and limits are both required: a pod without them is the first evicted and
    can starve its neighbours."""

    requests: ResourceList
    limits: ResourceList


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ResourceList(cpu=cpu, memory=memory),
        limits=ResourceList(cpu=cpu_limit, memory=memory_limit),
    )


class Image(Values):
    repository: str = Field(default="kgents/kgents-assets", min_length=1)
    tag: str = Field(default="", description="empty: the chart's appVersion")
    pull_policy: PullPolicy = "IfNotPresent"
    pull_secrets: list[K8sName] = Field(default_factory=list, description="imagePullSecrets")


class ServiceAccount(Values):
    create: bool = True
    name: K8sName = Field(default="", description="empty: the release's full name")
    annotations: dict[str, str] = Field(default_factory=dict)


class PostgresImage(Values):
    repository: str = Field(default="pgvector/pgvector", min_length=1)
    tag: str = Field(default="pg16", min_length=1)
    pull_policy: PullPolicy = "IfNotPresent"


class Persistence(Values):
    enabled: bool = True
    size: Quantity = "8Gi"
    storage_class: K8sName = Field(default="", description="empty: the cluster's default")


class Postgresql(Values):
    """The bundled server: Postgres 16 with pgvector, one StatefulSet replica."""

    enabled: bool = True
    image: PostgresImage = Field(default_factory=PostgresImage)
    database: str = Field(default="kgents", pattern=r"^[a-z_][a-z0-9_]*$")
    username: str = Field(default="kgents", pattern=r"^[a-z_][a-z0-9_]*$")
    existing_secret: K8sName = Field(
        default="",
        description="Secret with key postgresql-password; empty: a generated password kept "
        "across upgrades",
    )
    port: int = Field(default=5432, ge=1, le=65535)
    persistence: Persistence = Field(default_factory=Persistence)
    resources: Resources = Field(default_factory=lambda: _resources("100m", "256Mi", "1", "1Gi"))


class ExternalDatabase(Values):
    """A server run elsewhere (postgresql.enabled=false); it must have pgvector."""

    host: str = ""
    port: int = Field(default=5432, ge=1, le=65535)
    database: str = Field(default="kgents", min_length=1)
    username: str = Field(default="kgents", min_length=1)
    existing_secret: K8sName = Field(
        default="", description="Secret with key postgresql-password (required)"
    )
    ssl_mode: SslMode = "prefer"


class WorkspacePersistence(Values):
    enabled: bool = False
    size: Quantity = "20Gi"
    storage_class: K8sName = ""
    access_modes: list[AccessMode] = Field(
        default_factory=lambda: list[AccessMode](["ReadWriteMany"]), min_length=1
    )
    existing_claim: K8sName = Field(default="", description="use this PVC instead of a new one")


class Workspace(Values):
    """Where runs clone git repositories: a cache only, never shared state."""

    persistence: WorkspacePersistence = Field(default_factory=WorkspacePersistence)


class Repository(Values):
    name: str = Field(max_length=MAX_NAME, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    url: str = Field(min_length=1, description="git URL (or a path inside the image)")
    branch: str | None = Field(default=None, description="null: the remote's default branch")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return validate_repo_name(name)


class ServiceSpec(Values):
    type: ServiceType = "ClusterIP"
    port: int = Field(ge=1, le=65535)


class Webserver(Values):
    replicas: int = Field(default=1, ge=1)
    port: int = Field(default=3000, ge=1, le=65535)
    service: ServiceSpec = Field(default_factory=lambda: ServiceSpec(port=80))
    resources: Resources = Field(default_factory=lambda: _resources("100m", "384Mi", "1", "1Gi"))


class Daemon(Values):
    resources: Resources = Field(default_factory=lambda: _resources("100m", "384Mi", "1", "1Gi"))


class CodeServer(Values):
    port: int = Field(default=4000, ge=1, le=65535)
    resources: Resources = Field(default_factory=lambda: _resources("100m", "512Mi", "1", "1536Mi"))


class RunLauncher(Values):
    job_namespace: K8sName = Field(default="", description="empty: the release namespace")
    env_config_maps: list[K8sName] = Field(
        default_factory=list, description="extra ConfigMaps loaded as env into run Jobs"
    )
    env_secrets: list[K8sName] = Field(
        default_factory=list, description="extra Secrets loaded as env into run Jobs"
    )
    resources: Resources = Field(default_factory=lambda: _resources("250m", "768Mi", "2", "2Gi"))


class RunCoordinator(Values):
    max_concurrent_runs: int = Field(
        default=10, ge=-1, description="runs in flight at once; -1: no limit"
    )


class Migration(Values):
    backoff_limit: int = Field(default=6, ge=0)
    active_deadline_seconds: int = Field(default=900, ge=60)
    resources: Resources = Field(default_factory=lambda: _resources("100m", "384Mi", "1", "1Gi"))


class Dagster(Values):
    webserver: Webserver = Field(default_factory=Webserver)
    daemon: Daemon = Field(default_factory=Daemon)
    code_server: CodeServer = Field(default_factory=CodeServer)
    run_launcher: RunLauncher = Field(default_factory=RunLauncher)
    run_coordinator: RunCoordinator = Field(default_factory=RunCoordinator)
    migration: Migration = Field(default_factory=Migration)


class SecretRef(Values):
    existing_secret: K8sName = Field(default="", description="empty: generated, kept")
    key: str = Field(min_length=1)


class ReadToken(SecretRef):
    enabled: bool = False


class IngressTls(Values):
    enabled: bool = False
    secret_name: K8sName = ""


class Ingress(Values):
    enabled: bool = False
    class_name: str = ""
    host: str = Field(default="kgents.local", min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    tls: IngressTls = Field(default_factory=IngressTls)


class DisruptionBudget(Values):
    enabled: bool = True
    min_available: int = Field(default=1, ge=0)


class Gateway(Values):
    replicas: int = Field(default=1, ge=1)
    port: int = Field(default=8765, ge=1, le=65535)
    token: SecretRef = Field(default_factory=lambda: SecretRef(key="token"))
    read_token: ReadToken = Field(default_factory=lambda: ReadToken(key="read-token"))
    service: ServiceSpec = Field(default_factory=lambda: ServiceSpec(port=8765))
    ingress: Ingress = Field(default_factory=Ingress)
    pod_disruption_budget: DisruptionBudget = Field(default_factory=DisruptionBudget)
    resources: Resources = Field(default_factory=lambda: _resources("100m", "384Mi", "1", "1Gi"))


class ServiceMonitor(Values):
    enabled: bool = False
    interval: str = Field(default="30s", pattern=r"^[0-9]+(ms|s|m|h)$")
    labels: dict[str, str] = Field(default_factory=dict)


class Dashboard(Values):
    enabled: bool = True
    labels: dict[str, str] = Field(default_factory=lambda: {"grafana_dashboard": "1"})


class Metrics(Values):
    service_monitor: ServiceMonitor = Field(default_factory=ServiceMonitor)
    dashboard: Dashboard = Field(default_factory=Dashboard)


class HelmValues(Values):
    """The whole values file of the kgents chart."""

    model_config = ConfigDict(title="kgents chart values")

    name_override: str = ""
    fullname_override: str = ""
    image: Image = Field(default_factory=Image)
    service_account: ServiceAccount = Field(default_factory=ServiceAccount)
    postgresql: Postgresql = Field(default_factory=Postgresql)
    external_database: ExternalDatabase = Field(default_factory=ExternalDatabase)
    workspace: Workspace = Field(default_factory=Workspace)
    repositories: list[Repository] = Field(default_factory=list)
    dagster: Dagster = Field(default_factory=Dagster)
    gateway: Gateway = Field(default_factory=Gateway)
    metrics: Metrics = Field(default_factory=Metrics)

    @model_validator(mode="after")
    def _database_named(self) -> HelmValues:
        external = self.external_database
        if not self.postgresql.enabled and not (external.host and external.existing_secret):
            raise ValueError(
                "postgresql.enabled=false needs externalDatabase.host and "
                "externalDatabase.existingSecret"
            )
        names = [repo.name for repo in self.repositories]
        if len(set(names)) != len(names):
            raise ValueError(f"repositories: names must be unique, got {names}")
        return self


def values_schema() -> dict[str, Any]:
    """The JSON schema Helm checks values against. Helm 3 validates with a draft-07
    validator; pydantic's ``$defs`` are reached by JSON pointer, which draft-07 resolves."""
    schema = HelmValues.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}


def render_schema() -> str:
    return json.dumps(values_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_schema())
