"""A first build's plain-JSON states (hub/new_states.py) are the general path's states,
byte for byte: the text ``model_dump_json`` gives after fresh facts -> diff bundle ->
rules -> triage -> ``apply_tools``, ``updated`` included, and the same traces."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from kgents_assets.hub import refresh_states as rs
from kgents_assets.hub.diff_bundle import build_diff_bundle
from kgents_assets.hub.field_updates import apply_tools
from kgents_assets.hub.models import trusted_code_node
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.states_first_build import (
    load_symbols,
    resolve_all,
    stream_facts,
)
from kgents_assets.hub.triage import RulesTriage
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.hub.test_first_build import EXTRA
from tests.hub.test_refresh import BASE
from tests.repo_helpers import Files

REPO = "shop"

#: what JSON and COPY escape, non-ASCII text, a docstring whose first sentence is cut
ODD: Files = {
    "shop/odd.py": 'def quote(s="\\"\\\\\\t"):\n    """Ünïcödé — «quoted» \\\\ back.\n'
    '    More."""\n    return s\n\n\nclass Ŧ:\n    def m(self, x=\'\\n\'):\n'
    "        return quote(x)\n",
}


def test_new_state_json_is_the_general_paths_bytes(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo({**BASE, **EXTRA, **ODD})
    add_repository(store, REPO, str(root))
    refresh_files(store, root, repo=REPO, workers=1)
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    triage = RulesTriage()
    with store.connect() as conn:
        table, ends = load_symbols(conn, REPO)
        ids = sorted(ends)
        _, callers, callees = resolve_all(conn, REPO, table, ends, lambda rows: None)
        tests = rs._tests_by_target(conn, REPO, set(), True)
        facts = [f for batch in stream_facts(conn, REPO) for f in batch]
    # the stream gives every node once, in the order the general path derives them
    assert [f[0]["node_id"] for f in facts] == ids
    shared = rs._rules_new_states(triage, tests, now)
    assert shared is not None

    report = rs.StatesReport()
    fast = rs._derive_new_states(facts, (callers, callees), shared, report)

    general_report = rs.StatesReport()
    rows = {
        extract["node_id"]: rs._Row(trusted_code_node(extract), source, state_source, {})
        for extract, source, state_source in facts
    }
    general = rs._derive_states(
        REPO, rows, {}, (callers, callees), tests, triage, "r1", now, general_report
    )

    assert len(fast.writes) == len(ids) > 80
    assert fast.writes == general.writes  # keys and JSON text, byte for byte
    # the first build writes every node's trace at once (traces.write_trace_of_every_node):
    # what the general path writes, node by node in id order, is one trace for all
    assert fast.traces == []
    assert general.traces == [
        (REPO, "r1", i, shared.triage_name, shared.signals_json, shared.decisions_json) for i in ids
    ]
    assert (fast.changed_ids, fast.diffed, fast.new_keys) == (
        general.changed_ids,
        general.diffed,
        general.new_keys,
    )
    assert report == general_report
    # the cases this test is for are really there
    texts = dict(fast.writes)
    odd = [json.loads(v) for v in texts.values() if json.loads(v)["file_path"] == "shop/odd.py"]
    summaries = [s["docstring_summary"] or "" for s in odd]
    assert any("Ünïcödé — «quoted»" in t and "\\" in t and "More" not in t for t in summaries)
    assert any('"' in s["signature"] and "\\" in s["signature"] for s in odd)
    assert any("Ŧ" in s["full_name"] for s in odd)
    capped = [json.loads(v) for v in texts.values() if json.loads(v)["callers_total"] > 50]
    assert capped and all(len(s["callers"]) == rs.CALLERS_CAP for s in capped)


def test_new_state_matches_apply_tools_for_one_node(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    """The reduction new_states documents: no old state, every approved tool only stamps."""
    root = repo(BASE)
    add_repository(store, REPO, str(root))
    refresh_files(store, root, repo=REPO, workers=1)
    now = datetime.now(UTC)
    with store.connect() as conn:
        ((extract, source, _),) = [
            f for batch in stream_facts(conn, REPO) for f in batch if f[0]["name"] == "price"
        ]
    shared = rs._rules_new_states(RulesTriage(), {}, now)
    assert shared is not None
    fresh = rs._fresh_state(trusted_code_node(extract), [], [], {}, {})
    approved = [d.tool for d in shared.decisions if d.verdict == "approved"]
    assert rs._decide(RulesTriage(), build_diff_bundle(None, source, fresh, source), {}) == (
        shared.decisions
    )
    expected = apply_tools(None, fresh, approved, now).model_dump_json()
    assert rs.state_json(shared.builder.state(extract, [], [])) == expected


class _SameRules(RulesTriage):
    """The rules' decisions from a backend that is not RulesTriage itself: a first build
    then runs the general per-node code (any backend but the rules sees every bundle)."""


def test_a_first_build_under_another_backend_stores_the_same_states(
    store: Store, fresh_store: Callable[[], Store], repo: Callable[[Files], Path]
) -> None:
    root = repo({**BASE, **EXTRA, **ODD})
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    stored = []
    for target, triage in ((store, RulesTriage()), (fresh_store(), _SameRules())):
        add_repository(target, REPO, str(root))
        refresh_files(target, root, repo=REPO, workers=1)
        report = rs.refresh_states(target, repo=REPO, triage=triage, now=now)
        assert report.first_build and report.states_added > 80
        with target.connect() as conn:
            stored.append(
                (
                    sorted(conn.execute("SELECT key, value FROM kv WHERE repo = %s", (REPO,))),
                    sorted(
                        conn.execute(
                            "SELECT node_id, backend, signals::text, decisions::text "
                            "FROM hub_traces WHERE repo = %s",
                            (REPO,),
                        )
                    ),
                    sorted(conn.execute("SELECT node_id, stage, reason FROM hub_dirty")),
                    report.decisions,
                )
            )
    assert stored[0] == stored[1]
