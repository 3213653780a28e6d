"""NarratedAgent: a FluxAgent whose every event carries a ``summary`` sentence.

The sentence is made once, where the event is emitted (the rules are in
``kgents_assets.sentences``), so every observer, replay and REST snapshot shows the same
words without knowing the event types. An emitter that knows more than the event's data
(a run's materializations) writes ``summary`` itself and it is kept.
"""

from __future__ import annotations

from typing import Any

from kgents_assets.flux import FluxAgent
from kgents_assets.flux.events import TerrariumEvent
from kgents_assets.sentences import with_summary


class NarratedAgent(FluxAgent):
    def emit(self, type_: str, data: dict[str, Any] | None = None) -> TerrariumEvent:
        return super().emit(type_, with_summary(type_, data))
