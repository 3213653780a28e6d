from __future__ import annotations

import asyncio

import pytest

from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.hotdata.errors import FixtureValidationError
from kgents_assets.hotdata.generators import WORLD_GENERATORS, GenerationContext
from kgents_assets.hotdata.models import (
    AgentSnapshot,
    FluxState,
    GardenSnapshot,
    Phase,
    PolynomialState,
    ThoughtStream,
    YieldTurnLog,
)
from kgents_assets.hotdata.serializable import Serializable
from kgents_assets.hotdata.spec import FixtureSpec
from kgents_assets.hotdata.validation import validate_json

ALL_MODELS = [
    AgentSnapshot,
    FluxState,
    GardenSnapshot,
    PolynomialState,
    YieldTurnLog,
    ThoughtStream,
]


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=lambda s: s.name)
def test_every_model_round_trips_through_serializable(spec: FixtureSpec) -> None:
    schema = spec.resolved_schema()
    value = asyncio.run(
        WORLD_GENERATORS.get(spec.generator_name)(
            GenerationContext(spec.name, spec.seed, spec.entropy, spec.params)
        )
    )
    assert isinstance(value, Serializable)
    assert type(value) is schema
    assert schema.from_json(value.to_json()) == value


def test_phase_accepts_lower_case_from_older_kgents_files() -> None:
    agent = AgentSnapshot.from_json('{"id": "k", "name": "K-gent", "phase": "waning"}')
    assert agent.phase is Phase.WANING
    assert '"phase": "WANING"' in agent.to_json()


def test_flux_state_rejects_inconsistent_grids_with_locations() -> None:
    bad = """{"agents": {"a": {"id": "b", "name": "A", "phase": "ACTIVE", "grid_x": 9}},
              "focused_id": "zzz"}"""
    with pytest.raises(FixtureValidationError) as info:
        validate_json("flux_states/x", FluxState, bad, source="test")
    assert "agents['a'] holds an agent whose id is 'b'" in str(info.value)


def test_field_errors_name_the_exact_json_location() -> None:
    bad = """{"agents": {"k-gent": {"id": "k-gent", "name": "K", "phase": "ASLEEP",
              "activity": 1.5}}}"""
    with pytest.raises(FixtureValidationError) as info:
        validate_json("flux_states/x", FluxState, bad, source="flux.json")
    locations = {issue.location for issue in info.value.issues}
    assert locations == {"agents.k-gent.phase", "agents.k-gent.activity"}
    text = str(info.value)
    assert "fixture 'flux_states/x' is invalid (flux.json): 2 problem(s)" in text
    assert "agents.k-gent.activity: Input should be less than or equal to 1 (got 1.5)" in text


def test_list_fixture_errors_point_at_the_item() -> None:
    bad = (
        '[{"content": "x", "source": "k", "timestamp": "2025-01-01T00:00:00Z"},'
        ' {"content": "y", "source": "k", "timestamp": "yesterday"}]'
    )
    with pytest.raises(FixtureValidationError) as info:
        validate_json("thought_streams/x", ThoughtStream, bad, source="t.json")
    assert [i.location for i in info.value.issues] == ["[1].timestamp"]


def test_unknown_keys_are_reported_not_dropped() -> None:
    with pytest.raises(FixtureValidationError) as info:
        validate_json("g", GardenSnapshot, '{"id": "g", "name": "G", "helth": 0.5}', source="s")
    assert info.value.issues[0].location == "helth"
    assert "Extra inputs are not permitted" in info.value.issues[0].message
