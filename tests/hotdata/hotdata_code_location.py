"""A code location of just the HotData assets, for daemon tests (loaded by a gRPC server).

The fixtures directory comes from $KGENTS_FIXTURES_DIR, set by the test.
"""

import dagster as dg

from kgents_assets.assets.hotdata import defs as hotdata_defs
from resources.fixtures import FixturesResource
from resources.llm import LLMResource

defs = dg.Definitions.merge(
    hotdata_defs,
    dg.Definitions(resources={"fixtures": FixturesResource(), "llm": LLMResource()}),
)
