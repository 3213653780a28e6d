"""Code location for bench/repos_parallel_bench.py: the code assets of every repository
partition and nothing else (no sensors, no automation), so only the queued runs run."""

from dagster import Definitions, in_process_executor

from kgents_assets.assets import code
from resources import default_resources

defs = Definitions.merge(
    code.defs, Definitions(resources=default_resources(), executor=in_process_executor)
)
