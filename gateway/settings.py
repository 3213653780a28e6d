"""Gateway configuration, read from the environment once at start."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from kgents_assets.home import dagster_home

TOKEN_ENV = "KGENTS_GATEWAY_TOKEN"
READ_TOKEN_ENV = "KGENTS_GATEWAY_READ_TOKEN"
SHARED_STREAMS_ENV = "KGENTS_GATEWAY_SHARED_STREAMS"
DEV_MODE_ENV = "KGENTS_DEV_MODE"
FIXTURES_ENV = "KGENTS_FIXTURES_DIR"
_TRUE = {"1", "true", "yes", "on"}


class GatewaySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: SecretStr | None = Field(
        default=None, description="shared secret for /perturb and purgatory actions"
    )
    read_token: SecretStr | None = Field(
        default=None,
        description="when set, REST and /observe need it (or the steering token); "
        "health, readiness and /metrics stay open for probes and scrapers",
    )
    database_url: str | None = None  # None: $KGENTS_DATABASE_URL or the embedded pgserver
    repo_root: Path = Field(default_factory=Path.cwd)
    agentfs_dir: Path | None = None  # default {repo_root}/.agentfs
    fixtures_dir: Path | None = None  # default {repo_root}/fixtures
    dagster_home: Path | None = None  # default $DAGSTER_HOME or $KGENTS_HOME/dagster
    dagster_agents: bool = True  # host `pipeline` and `hub` (they read the Dagster instance)
    hub_asset_keys: tuple[str, ...] | None = None  # None: the assets of group "code"
    poll_interval_s: float = Field(default=0.5, gt=0)
    history: int = Field(default=100, ge=0)
    ring_capacity: int = Field(default=4096, ge=16)
    max_observers: int = Field(default=10_000, ge=1)
    observer_send_timeout_s: float = Field(default=3.0, gt=0)
    observer_coalesce_s: float = Field(
        default=0.02, ge=0, description="in a burst, one message per observer per window"
    )
    observer_sndbuf_bytes: int = Field(default=32 * 1024, ge=4096)
    observer_write_high_water: int = Field(default=32 * 1024, ge=4096)
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    auth_timeout_s: float = Field(default=10.0, gt=0)
    dev_mode: bool = Field(
        default=False, description="hot-reload the demo world as fixture files change"
    )
    shared_streams: bool = Field(
        default=False,
        description="number events in PostgreSQL and share them with every replica "
        "(gateway/streams); off: streams live in this process only",
    )
    stream_retention: int = Field(
        default=10_000, ge=100, description="events kept per agent in gateway_events"
    )

    @property
    def agentfs(self) -> Path:
        return self.agentfs_dir or self.repo_root / ".agentfs"

    @property
    def fixtures(self) -> Path:
        return self.fixtures_dir or self.repo_root / "fixtures"

    @property
    def dagster(self) -> Path:
        return self.dagster_home if self.dagster_home is not None else dagster_home()

    @classmethod
    def from_env(cls, **overrides: object) -> GatewaySettings:
        token = os.environ.get(TOKEN_ENV) or None
        read_token = os.environ.get(READ_TOKEN_ENV) or None
        values: dict[str, object] = {
            "token": SecretStr(token) if token else None,
            "read_token": SecretStr(read_token) if read_token else None,
            "shared_streams": os.environ.get(SHARED_STREAMS_ENV, "").lower() in _TRUE,
        }
        if os.environ.get(DEV_MODE_ENV, "").lower() in _TRUE:
            values["dev_mode"] = True
        if fixtures := os.environ.get(FIXTURES_ENV):
            values["fixtures_dir"] = Path(fixtures).expanduser().resolve()
        if hub := os.environ.get("KGENTS_HUB_ASSETS"):
            values["hub_asset_keys"] = tuple(k.strip() for k in hub.split(",") if k.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
