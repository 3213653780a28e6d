"""The gateway's list of code assets is the code location's, without loading it."""

from __future__ import annotations

import subprocess
import sys

from kgents_assets.code_asset_keys import CODE_ASSET_KEYS, CODE_GROUP


def test_the_constant_names_every_asset_of_the_code_group() -> None:
    from kgents_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    actual = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == CODE_GROUP
    }
    assert set(CODE_ASSET_KEYS) == actual
    assert len(CODE_ASSET_KEYS) == len(actual)  # no key listed twice


def test_the_hub_agent_does_not_load_the_code_location() -> None:
    probe = (
        "import sys, gateway.agents.hub as hub\n"
        "assert hub.code_group_asset_keys() == set(hub.CODE_ASSET_KEYS)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('kgents_assets.definitions', "
        "'kgents_assets.assets', 'resources'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "[]"
