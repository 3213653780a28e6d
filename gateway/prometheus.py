"""Prometheus metrics, read from the agents at scrape time.

Nothing on the event path increments a metric: the collectors read counters the agents,
mirrors and shared streams keep anyway, so /metrics costs nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.agents.registry import AgentRegistry
from gateway.streams import StreamReplica
from kgents_assets.catalog import metrics as catalog_metrics
from kgents_assets.flux import FluxState
from kgents_assets.store import Store


class AgentCollector(Collector):
    def __init__(self, registry: AgentRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "kgents_agent_state", "1 for the state the agent is in", labels=["agent", "state"]
        )
        gauges = {
            name: GaugeMetricFamily(f"kgents_agent_{name}", help_, labels=["agent"])
            for name, help_ in [
                ("pressure", "perturbation queue depth / buffer size"),
                ("flow", "events per second, smoothed"),
                ("temperature", "recent activity and errors, 0-1"),
                ("queue_depth", "perturbations waiting"),
                ("observers", "observers attached to the mirror"),
            ]
        }
        events = CounterMetricFamily("kgents_agent_events", "events emitted", labels=["agent"])
        attached = CounterMetricFamily(
            "kgents_observers_attached", "observers ever attached", labels=["agent"]
        )
        dropped = CounterMetricFamily(
            "kgents_observers_dropped", "observers dropped", labels=["agent", "reason"]
        )
        perturbations = CounterMetricFamily(
            "kgents_perturbations", "perturbations by outcome", labels=["agent", "outcome"]
        )
        for agent in self.registry:
            for candidate in FluxState:
                state.add_metric([agent.id, candidate.value], float(agent.state is candidate))
            gauges["pressure"].add_metric([agent.id], agent.pressure)
            gauges["flow"].add_metric([agent.id], agent.flow)
            gauges["temperature"].add_metric([agent.id], agent.temperature)
            gauges["queue_depth"].add_metric([agent.id], agent.queue_depth)
            gauges["observers"].add_metric([agent.id], agent.mirror.observer_count)
            events.add_metric([agent.id], agent.mirror.head)
            attached.add_metric([agent.id], agent.mirror.attached_total)
            for reason, count in agent.mirror.dropped_total.items():
                dropped.add_metric([agent.id, reason], count)
            metrics = agent.metrics()
            for outcome in ("submitted", "completed", "failed", "refused", "dropped"):
                perturbations.add_metric([agent.id, outcome], metrics[f"perturbations_{outcome}"])
        yield state
        yield from gauges.values()
        yield from (events, attached, dropped, perturbations)


class StreamsCollector(Collector):
    """The shared streams of this replica (gateway/streams), when replicas share them."""

    def __init__(self, streams: Callable[[], StreamReplica | None]) -> None:
        self.streams = streams

    def collect(self) -> Iterator[Metric]:
        streams = self.streams()
        if streams is None:
            return
        pending = GaugeMetricFamily(
            "kgents_stream_outbox_events", "events emitted here, not yet in the shared table"
        )
        pending.add_metric([], streams.pending)
        yield pending
        for name, help_, value in [
            ("written", "events this replica appended to the shared table", streams.written),
            ("notices", "notifications this replica received", streams.notified),
            ("filled", "events read from the table to fill gaps", streams.filled),
            ("dropped", "events dropped from a full outbox", streams.dropped),
            ("write_errors", "failed appends (retried)", streams.write_errors),
        ]:
            family = CounterMetricFamily(f"kgents_stream_{name}", help_)
            family.add_metric([], value)
            yield family


def metrics_registry(
    registry: AgentRegistry,
    store: Callable[[], Store | None] = lambda: None,
    streams: Callable[[], StreamReplica | None] = lambda: None,
) -> CollectorRegistry:
    """The agents' metrics, the shared streams', and the catalog's (its own registry,
    filled by searches and syncs in this process, plus its size read at scrape time)."""
    collectors = CollectorRegistry()
    collectors.register(AgentCollector(registry))
    collectors.register(StreamsCollector(streams))
    collectors.register(catalog_metrics.REGISTRY)
    collectors.register(catalog_metrics.CatalogCollector(store))
    return collectors
