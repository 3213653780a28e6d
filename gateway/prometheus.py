"""Prometheus metrics, read from the agents at scrape time.

Nothing on the event path increments a metric: the collector reads counters the agents
and mirrors keep anyway, so /metrics costs nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.agents.registry import AgentRegistry
from kgents_assets.flux import FluxState


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


def metrics_registry(registry: AgentRegistry) -> CollectorRegistry:
    collectors = CollectorRegistry()
    collectors.register(AgentCollector(registry))
    return collectors
