"""The ``Serializable`` protocol every HotData payload implements, and a pydantic base."""

from __future__ import annotations

from typing import Generic, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, RootModel


@runtime_checkable
class Serializable(Protocol):
    """A value that round-trips through JSON text: ``T.from_json(x.to_json()) == x``."""

    def to_json(self) -> str: ...

    @classmethod
    def from_json(cls, data: str | bytes) -> Self: ...


class SerializableModel(BaseModel):
    """Pydantic model implementing ``Serializable``; unknown keys are rejected so typos in
    hand-edited fixtures are reported instead of silently dropped."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, data: str | bytes) -> Self:
        return cls.model_validate_json(data)


T = TypeVar("T")


class SerializableList(RootModel[list[T]], Generic[T]):
    """A JSON array of models (thought streams, yield turn logs) as one Serializable."""

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, data: str | bytes) -> Self:
        return cls.model_validate_json(data)

    def __len__(self) -> int:
        return len(self.root)

    def __getitem__(self, index: int) -> T:
        return self.root[index]
