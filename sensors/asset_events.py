"""One runless asset event as plain data, in a module that imports nothing heavy.

``kg hub --once``'s recorder process (``kgents_assets.cli.hub_record``) imports this and
Dagster only: it starts with the command and must be ready with the instance open by the
time the refresh ends, so every module it imports besides Dagster is on the command's
critical path (``sensors.watch_refresh`` with the hub's stages was 0.25 s of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster import AssetMaterialization, AssetObservation


@dataclass(frozen=True)
class AssetEventSpec:
    """One runless asset event as plain data. Built without importing Dagster, so the
    record can be written by whoever holds an instance: this process (the daemon) or a
    process of its own that imports Dagster while the stages run (``kg hub --once``)."""

    asset_key: str
    kind: str  # "materialization" | "observation"
    partition: str
    metadata: dict[str, Any]
    description: str | None = None

    def to_dagster(self) -> AssetMaterialization | AssetObservation:
        from dagster import AssetKey, AssetMaterialization, AssetObservation

        event = AssetObservation if self.kind == "observation" else AssetMaterialization
        return event(
            asset_key=AssetKey.from_user_string(self.asset_key),
            partition=self.partition,
            description=self.description,
            metadata=self.metadata,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssetEventSpec:
        return cls(
            str(data["asset_key"]),
            str(data["kind"]),
            str(data["partition"]),
            dict(data["metadata"]),
            data.get("description"),
        )
