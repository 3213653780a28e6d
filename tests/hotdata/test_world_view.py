"""The demo world's scenes: fixture sets, composition, and what a broken or deleted
fixture file does to the scene (real files in a copy of the project's fixtures)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from kgents_assets.hotdata.catalog import default_registry
from kgents_assets.hotdata.models import FluxState, Phase
from kgents_assets.hotdata.paths import PROJECT_FIXTURES_DIR
from kgents_assets.hotdata.world_view import (
    UnknownFixtureSet,
    WorldFixtures,
    fixture_sets,
)


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    copy = tmp_path / "fixtures"
    shutil.copytree(PROJECT_FIXTURES_DIR, copy)
    return copy


@pytest.fixture
def world(fixtures: Path) -> WorldFixtures:
    loaded = WorldFixtures(default_registry(fixtures))
    asyncio.run(loaded.load_all())
    return loaded


def test_a_set_is_a_variant_name_with_each_kinds_default_filling_in() -> None:
    sets = fixture_sets(
        [
            "flux_states/demo",
            "flux_states/crowded",
            "garden_states/main",
            "garden_states/crowded",
            "yield_turns/demo",
            "test/flux_state",
        ]
    )
    assert list(sets) == ["demo", "crowded", "main"]
    assert sets["crowded"] == {
        "flux_states": "flux_states/crowded",
        "garden_states": "garden_states/crowded",
        "yield_turns": "yield_turns/demo",
    }
    # no garden "demo": the kind's first registered fixture is its default
    assert sets["demo"]["garden_states"] == "garden_states/main"
    assert all("test" not in kinds for kinds in sets.values())


def test_the_crowded_scene_has_every_part(world: WorldFixtures, fixtures: Path) -> None:
    scene = world.scene("crowded")
    flux = FluxState.model_validate_json((fixtures / "flux_states/crowded.json").read_bytes())
    featured = json.loads((fixtures / "agent_snapshots/demo.json").read_text())
    ids = {a.id for a in scene.grid.agents}
    assert ids == set(flux.agents) | {featured["id"]}
    star = next(a for a in scene.grid.agents if a.featured)
    assert (star.id, star.x, star.y) == (featured["id"], featured["grid_x"], featured["grid_y"])
    assert {a.phase for a in scene.grid.agents} == set(Phase)  # "every phase present"
    turns = json.loads((fixtures / "yield_turns/demo.json").read_text())
    assert [t.id for t in scene.awaiting] == [t["id"] for t in turns if t["is_approved"] is None]
    assert scene.decided_turns == sum(t["is_approved"] is not None for t in turns)
    stamps = [t.timestamp for t in scene.thoughts]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 8
    assert scene.gardens[0].id == "garden-main" and scene.polynomial is not None
    assert not scene.problems and not scene.notices
    with pytest.raises(UnknownFixtureSet, match="known sets: demo, busy"):
        world.scene("nope")


def test_a_broken_file_keeps_the_last_good_scene_and_says_where(
    world: WorldFixtures, fixtures: Path
) -> None:
    path = fixtures / "flux_states/demo.json"
    good = world.scene("demo")
    data = json.loads(path.read_text())
    data["agents"]["e-gent"]["activity"] = 2
    path.write_text(json.dumps(data))
    change = asyncio.run(world.reload("flux_states/demo"))
    assert change.change == "invalid" and "demo" in change.sets
    assert [(i.location, i.message) for i in change.issues] == [
        ("agents.e-gent.activity", "Input should be less than or equal to 1 (got 2)")
    ]
    assert change.event_data()["summary"] == (
        "flux_states/demo is invalid at agents.e-gent.activity: Input should be less than or "
        "equal to 1 (got 2); keeping the last good scene"
    )
    scene = world.scene("demo")
    assert scene.grid == good.grid
    assert [p.fixture for p in scene.problems] == ["flux_states/demo"]

    path.write_text('{\n  "agents": ')
    change = asyncio.run(world.reload("flux_states/demo"))
    assert change.issues[0].location == "<file>"
    assert "EOF while parsing a value at line 2 column 12" in change.issues[0].message

    path.write_text(
        json.dumps(json.loads((PROJECT_FIXTURES_DIR / "flux_states/demo.json").read_text()))
    )
    change = asyncio.run(world.reload("flux_states/demo"))
    assert change.change == "recovered" and not world.scene("demo").problems
    assert change.event_data()["summary"].startswith("flux_states/demo is valid again, 9 agents")
    assert asyncio.run(world.reload("flux_states/demo")).change == "unchanged"


def test_a_deleted_file_falls_back_to_its_generators_scene(
    world: WorldFixtures, fixtures: Path
) -> None:
    registry = world.registry
    (fixtures / "flux_states/crowded.json").unlink()
    change = asyncio.run(world.reload("flux_states/crowded"))
    assert change.change == "missing" and change.sets == ["crowded"]
    expected, _ = asyncio.run(registry.render("flux_states/crowded"))
    scene = world.scene("crowded")
    star = next(a.id for a in scene.grid.agents if a.featured)  # replaces its namesake
    assert {a.id: (a.phase, a.x, a.y) for a in scene.grid.agents if not a.featured} == {
        a.id: (a.phase, a.grid_x, a.grid_y) for a in expected.agents.values() if a.id != star
    }
    assert scene.notices == [
        "flux_states/crowded was deleted: showing the generator's default scene "
        "(flux_states generator, seed 3)"
    ]
    assert scene.sources[0].origin == "generator"
    assert not (fixtures / "flux_states/crowded.json").exists()  # a viewer never writes


def test_a_file_broken_from_the_start_shows_the_generator_scene_and_the_error(
    fixtures: Path,
) -> None:
    (fixtures / "garden_states/main.json").write_text('{"id": "g", "name": "G", "health": 7}')
    world = WorldFixtures(default_registry(fixtures))
    changes = {c.fixture: c for c in asyncio.run(world.load_all())}
    assert changes["garden_states/main"].change == "invalid"
    scene = world.scene("demo")
    assert scene.gardens and scene.gardens[0].id == "garden-main"  # generated
    assert scene.problems[0].issues[0].location == "health"
    assert "never loaded" in scene.notices[0]


def test_refresh_reads_only_files_that_changed_on_disk(
    world: WorldFixtures, fixtures: Path
) -> None:
    assert asyncio.run(world.refresh()) == []
    path = fixtures / "garden_states/stressed.json"
    data = json.loads(path.read_text())
    data["health"] = 0.01
    tmp = path.with_name(".stressed.json.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)  # an atomic replace, as editors and `kg fixture refresh` do
    changes = asyncio.run(world.refresh(world.require_set("stressed").values()))
    assert [(c.fixture, c.change) for c in changes] == [("garden_states/stressed", "loaded")]
    assert world.scene("stressed").gardens[0].health == 0.01
    assert asyncio.run(world.refresh()) == []
    path.unlink()
    assert [c.change for c in asyncio.run(world.refresh())] == ["missing"]
