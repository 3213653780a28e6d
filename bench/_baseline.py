"""The raw baseline every code benchmark is measured against, in the same run.

Read each file, parse it with tree-sitter and run a definition query: the least work any
code indexer does. Single process, and on N processes (pool start included) side by side,
so a figure on N workers is compared with a baseline on N workers too. The query belongs
to the benchmark, not the project: the anchor must not move when the project's own
extraction query changes between the trees compared.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from pathlib import Path

import tree_sitter as ts
import tree_sitter_python

DEFINITIONS = """
(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class
"""


def parse_and_query(paths: list[str]) -> int:
    """Definitions found in ``paths`` (read, parse, query)."""
    language = ts.Language(tree_sitter_python.language())
    parser = ts.Parser(language)
    query = ts.Query(language, DEFINITIONS)
    found = 0
    for path in paths:
        tree = parser.parse(Path(path).read_bytes())
        found += len(ts.QueryCursor(query).matches(tree.root_node))
    return found


def raw_baseline(paths: list[str], workers: int = 1) -> tuple[float, int]:
    """(wall seconds, definitions found) for ``paths`` on ``workers`` processes."""
    wall, _, found = raw_baseline_cpu(paths, workers)
    return wall, found


def _cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def raw_baseline_cpu(paths: list[str], workers: int = 1) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process and its pool, definitions found).

    CPU seconds move less than wall time when other work shares the cores."""
    cpu0 = _cpu_now()
    started = time.perf_counter()
    if workers <= 1:
        found = parse_and_query(paths)
    else:
        chunks = [paths[i::workers] for i in range(workers)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            found = sum(pool.map(parse_and_query, chunks))
    return time.perf_counter() - started, _cpu_now() - cpu0, found


class BenchFailure(SystemExit):
    """A check the benchmark prints did not hold: exit non-zero with the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(f"FAILED: {message}")
