"""Prometheus metrics of the L-gent catalog, and of the pipeline runs that fill it.

They live in a registry of their own (``REGISTRY``) rather than prometheus_client's global
one: a process exports them where it has an HTTP endpoint (the gateway's ``/metrics``),
and tests can read them without other libraries' metrics in the way.

- ``kgents_catalog_search_seconds{mode}``: latency of every search, keyword / semantic /
  hybrid / similar, successful or not (a slow failure is still slow).
- ``kgents_catalog_operations_total{operation, status}``: searches and syncs by outcome:
  ``ok``, ``invalid`` (the catalog refused the input: a ``CatalogError``) or ``error``.
- ``kgents_catalog_entries{entity_type}`` and ``kgents_catalog_pool_connections{state}``:
  read at scrape time (``CatalogCollector``), so they cost nothing between scrapes and
  are never stale after a sync in another process (a run Job).
- ``kgents_pipeline_run_seconds{status}``: Dagster run durations, observed by the gateway's
  ``pipeline`` agent from run events.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kgents_assets.catalog.errors import CatalogError
from kgents_assets.store import DatabaseUnavailable, Store

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
#: searches take milliseconds (DESIGN §8: HNSW p50 1.1 ms); an embedder adds tens
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
#: a trivial materialization is ~4 s, a cold big repository minutes
RUN_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)

SEARCH_SECONDS = Histogram(
    "kgents_catalog_search_seconds",
    "catalog search latency by mode",
    ["mode"],
    buckets=SEARCH_BUCKETS,
    registry=REGISTRY,
)
OPERATIONS = Counter(
    "kgents_catalog_operations",
    "catalog operations (search, sync) by outcome: ok, invalid (refused input), error",
    ["operation", "status"],
    registry=REGISTRY,
)
PIPELINE_RUN_SECONDS = Histogram(
    "kgents_pipeline_run_seconds",
    "Dagster run durations by final status (success, failure, canceled)",
    ["status"],
    buckets=RUN_BUCKETS,
    registry=REGISTRY,
)


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    return "invalid" if isinstance(exc, CatalogError) else "error"


def counted(operation: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Count every call of the decorated function under ``operation`` by its outcome."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                OPERATIONS.labels(operation, _outcome(exc)).inc()
                raise
            OPERATIONS.labels(operation, "ok").inc()
            return result

        return wrapper

    return decorate


def timed_search(mode: str | None = None) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Time and count a search function; its mode is ``mode``, else its ``mode`` argument."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        # Where the mode argument sits, found once: binding the signature on every call
        # cost more than the histogram itself.
        names = list(inspect.signature(fn).parameters)
        position = names.index("mode") if mode is None else -1
        default = inspect.signature(fn).parameters["mode"].default if mode is None else mode

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            label: object
            if mode is not None:
                label = mode
            elif "mode" in kwargs:
                label = kwargs["mode"]
            else:
                label = args[position] if len(args) > position else default
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                error = exc
                raise
            finally:
                SEARCH_SECONDS.labels(str(label)).observe(time.perf_counter() - started)
                OPERATIONS.labels("search", _outcome(error)).inc()

        return wrapper

    return decorate


def observe_run(status: str, seconds: float) -> None:
    PIPELINE_RUN_SECONDS.labels(status).observe(max(0.0, seconds))


def entries_by_type(store: Store) -> dict[str, int]:
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT entity_type, count(*) FROM catalog_entries GROUP BY entity_type"
        ).fetchall()
    return {str(kind): int(count) for kind, count in rows}


def pool_connections() -> dict[str, int]:
    """Connections of the search pools of this process: in use, idle, and searches
    waiting for one."""
    from kgents_assets.catalog import connections

    totals = {"in_use": 0, "idle": 0, "waiting": 0}
    with connections._POOLS_LOCK:  # read-only look at the pools the module keeps
        pools = list(connections._POOLS.values())
    for pool in pools:
        stats = pool.get_stats()
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        totals["in_use"] += size - idle
        totals["idle"] += idle
        totals["waiting"] += stats.get("requests_waiting", 0)
    return totals


class CatalogCollector(Collector):
    """Catalog size and pool state, read when scraped. ``store`` returns the store of the
    moment (None while it is not open); a store that is down yields no size, not an error."""

    def __init__(self, store: Callable[[], Store | None]) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        pool = GaugeMetricFamily(
            "kgents_catalog_pool_connections",
            "catalog search pool connections by state",
            labels=["state"],
        )
        for state, count in pool_connections().items():
            pool.add_metric([state], count)
        yield pool
        store = self.store()
        if store is None:
            return
        try:
            counts = entries_by_type(store)
        except DatabaseUnavailable as exc:
            log.warning("catalog metrics: %s", exc)
            return
        entries = GaugeMetricFamily(
            "kgents_catalog_entries", "catalog entries by entity type", labels=["entity_type"]
        )
        for kind, count in sorted(counts.items()):
            entries.add_metric([kind], count)
        yield entries
