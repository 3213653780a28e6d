"""The Dagster feed reads by cursor and costs one lookup when nothing happened."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

from gateway.agents.dagster_feed import MATERIALIZATION, RUN_EVENTS, DagsterEventFeed


@dg.asset(group_name="code")
def code_nodes() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"files_scanned": 7, "preview": dg.MetadataValue.md("# x")}
    )


def test_feed_reads_new_events_once_in_order_and_idles_cheaply(tmp_path: Path) -> None:
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        dg.materialize([code_nodes], instance=instance)  # history before we start
        feed = DagsterEventFeed(instance, (*RUN_EVENTS, MATERIALIZATION))
        assert feed.poll() == [] and feed.queries == 0  # starts at "now"; nothing new

        dg.materialize([code_nodes], instance=instance)
        # a deprecated Dagster call here is one the next Dagster removes: the gateway's
        # live feed would then fail on its first poll
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            events = feed.poll()
        assert [e.type for e in events] == ["run_start", "asset_materialization", "run_success"]
        assert [e.storage_id for e in events] == sorted(e.storage_id for e in events)
        assert events[1].data["asset_key"] == "code_nodes"
        assert events[1].data["metadata"] == {"files_scanned": 7, "preview": "# x"}
        assert events[0].data["run_id"] == events[2].data["run_id"]

        queries = feed.queries
        for _ in range(5):
            assert feed.poll() == []
        assert feed.queries == queries  # idle polls never query the event tables
