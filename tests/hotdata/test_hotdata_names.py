from __future__ import annotations

from pathlib import Path

import pytest

from kgents_assets.hotdata.errors import FixtureNameError, UnknownFixtureError
from kgents_assets.hotdata.names import asset_key_parts, fixture_path, validate_fixture_name
from kgents_assets.hotdata.registry import HotDataRegistry
from kgents_assets.hotdata.spec import FixtureSpec


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../etc/passwd", "'..'"),
        ("agent_snapshots/../../secret", "'..'"),
        ("/etc/passwd", "absolute path"),
        ("C:/fixtures/x", "absolute path"),
        ("agent_snapshots\\demo", "backslash"),
        ("agent_snapshots/demo.json", "should not end in '.json'"),
        ("Agent/Demo", "lower-case"),
        ("agent_snapshots//demo", "lower-case"),
        ("", "non-empty"),
        ("./demo", "'.'"),
    ],
)
def test_bad_names_are_rejected_with_the_reason(name: str, says: str) -> None:
    with pytest.raises(FixtureNameError) as info:
        validate_fixture_name(name)
    assert says in str(info.value)


def test_a_bad_name_never_reaches_the_filesystem(tmp_path: Path) -> None:
    with pytest.raises(FixtureNameError):
        fixture_path(tmp_path, "../outside")
    with pytest.raises(FixtureNameError):
        FixtureSpec("../outside", "kgents_assets.hotdata.models:AgentSnapshot")
    assert list(tmp_path.parent.glob("outside*")) == []


def test_good_names_map_to_files_and_asset_keys(tmp_path: Path) -> None:
    assert fixture_path(tmp_path, "flux_states/demo") == tmp_path / "flux_states" / "demo.json"
    assert asset_key_parts("flux_states/demo") == ["hotdata", "flux_states", "demo"]


def test_unknown_fixture_suggests_close_names(registry: HotDataRegistry) -> None:
    with pytest.raises(UnknownFixtureError) as info:
        registry.get("flux_states/dem")
    message = str(info.value)
    assert "unknown fixture 'flux_states/dem'" in message
    assert "kg fixture list" in message
