"""The keys of the code-model assets (group ``code``), for processes that follow them.

The gateway's ``hub`` agent mirrors materializations of these assets; listing them by
loading the code location would import every asset, resource and model backend into the
gateway just to read four names (``catalog_embeddings`` is in group ``catalog``). A test
checks this tuple against the code location's actual group, so a renamed or added asset
fails CI instead of silently going unmirrored.
"""

from __future__ import annotations

CODE_GROUP = "code"
CODE_ASSET_KEYS: tuple[str, ...] = (
    "code_nodes", "node_state", "node_markdown", "api_impact", "test_skeletons",
)  # fmt: skip
