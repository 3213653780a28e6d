"""Stage 2 (asset ``node_state``): re-derive the state of every node stage 1 marked.

Resolves the marked nodes' calls, rewrites their edges, follows edge changes to the nodes
at the other end (their callers or tests changed), builds each affected node's fresh
facts, runs the diff bundle -> rules -> triage -> tools chain, and stores what changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any

import psycopg

from kgents_assets.hub import dirty
from kgents_assets.hub.background_writes import BackgroundWrites
from kgents_assets.hub.diff_bundle import (
    AstDiff,
    DiffBundle,
    RelationalDiff,
    StandardDiff,
    StructuralDiff,
    build_diff_bundle,
)
from kgents_assets.hub.extract_common import first_sentence
from kgents_assets.hub.field_updates import apply_tools, suggest_test_skeleton, summarize
from kgents_assets.hub.markdown import markdown_relpath
from kgents_assets.hub.models import (
    CodeNode,
    Edge,
    NodeState,
    trusted_code_node,
)
from kgents_assets.hub.new_states import (
    CALLERS_CAP,
    EdgeEnd,
    NewStates,
    ordered_edges,
    related_tests,
    stamp_json,
    state_json,
    updated_of,
)
from kgents_assets.hub.resolution import CallerContext, Symbol, SymbolTable, resolve_node_calls
from kgents_assets.hub.rules import candidates_for
from kgents_assets.hub.state_store import delete_states, load_states, state_key
from kgents_assets.hub.states_first_build import (
    is_first_build,
    load_symbols,
    resolve_all,
    stream_facts,
)
from kgents_assets.hub.test_files import tested_names
from kgents_assets.hub.traces import write_trace_of_every_node, write_traces
from kgents_assets.hub.triage import Decision, RulesTriage, TriageBackend
from kgents_assets.store import Store
from kgents_assets.store.bulk import bulk_insert, bulk_upsert

EDGE_COLUMNS = ["repo", "src_id", "dst_id", "confidence"]
#: Past this many nodes it is cheaper to load whole tables than to query by key.
BULK_THRESHOLD = 2000
#: A first build's batches of edges that may wait for the stage's writer (~2k rows each)
EDGE_BATCHES_QUEUED = 64


@dataclass
class StatesReport:
    nodes_processed: int = 0
    states_added: int = 0
    states_changed: int = 0
    states_removed: int = 0
    states_unchanged: int = 0
    edges_written: int = 0
    decisions: int = 0
    deferred: int = 0
    first_build: bool = False  # every node new: the streaming path (states_first_build)
    duration_s: float = 0.0


@dataclass
class _Row:
    node: CodeNode
    source: str
    state_source: str | None
    imports: dict[str, str]


def _load_rows(conn: psycopg.Connection[Any], repo: str, ids: list[str]) -> dict[str, _Row]:
    rows = conn.execute(
        "SELECT n.extract, n.source, coalesce(n.state_source, n.source), f.imports "
        "FROM hub_nodes n "
        "JOIN hub_files f ON f.repo = n.repo AND f.path = n.file_path "
        "WHERE n.repo = %s AND n.node_id = ANY(%s)",
        (repo, ids),
    )
    out: dict[str, _Row] = {}
    for extract, source, state_source, imports in rows:
        node = trusted_code_node(extract)
        out[node.node_id] = _Row(node, source, state_source, imports)
    return out


def _load_symbols(
    conn: psycopg.Connection[Any], repo: str, names: set[str], everything: bool
) -> SymbolTable:
    """The definitions calls may resolve to: only the repository's own. Resolution never
    crosses repositories, even when two of them define the same names."""
    query = (
        "SELECT n.node_id, n.name, n.full_name, n.kind, f.module, "
        "coalesce((n.extract->>'ordinal')::int, 0) FROM hub_nodes n "
        "JOIN hub_files f ON f.repo = n.repo AND f.path = n.file_path WHERE n.repo = %s"
    )
    if everything:
        rows = conn.execute(query, (repo,))
    else:
        # A module's own name may be the target of ``import x; x()``-style lookups too.
        rows = conn.execute(
            query + " AND (n.name = ANY(%s) OR n.full_name = ANY(%s))",
            (repo, sorted(names), sorted(names)),
        )
    return SymbolTable(Symbol(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows)


def _needed_names(rows: Iterable[_Row]) -> set[str]:
    names: set[str] = set()
    for row in rows:
        for ref in row.node.calls:
            names.add(ref.name)
            if ref.name in row.imports:
                names.add(row.imports[ref.name].rsplit(".", 1)[-1])
    return names


def _edges_by(
    conn: psycopg.Connection[Any], column: str, ids: list[str]
) -> dict[str, list[tuple[str, str, float, bool]]]:
    other = "src_id" if column == "dst_id" else "dst_id"
    rows = conn.execute(
        f"SELECT e.{column}, e.{other}, n.full_name, e.confidence, n.is_test "
        f"FROM hub_edges e JOIN hub_nodes n ON n.node_id = e.{other} "
        f"WHERE e.{column} = ANY(%s)",
        (ids,),
    )
    out: dict[str, list[tuple[str, str, float, bool]]] = {}
    for key, other_id, full_name, conf, is_test in rows:
        out.setdefault(key, []).append((other_id, full_name, round(float(conf), 3), is_test))
    return out


def _tests_by_target(
    conn: psycopg.Connection[Any], repo: str, names: set[str], everything: bool
) -> dict[str, set[str]]:
    """Node name -> full names of tests that name it by convention."""
    query = (
        "SELECT tested_names, full_name FROM hub_nodes "
        "WHERE repo = %s AND cardinality(tested_names) > 0"
    )
    rows = (
        conn.execute(query, (repo,))
        if everything
        else conn.execute(query + " AND tested_names && %s::text[]", (repo, sorted(names)))
    )
    out: dict[str, set[str]] = {}
    for targets, full_name in rows:
        for target in targets:
            out.setdefault(target, set()).add(full_name)
    return out


#: Edges already built in this run, by (node id, full name, confidence): a node shows up
#: in the lists of each of its callers and callees, and model_construct is not free.
EdgeCache = dict[tuple[str, str, float], Edge]


def _edge_list(
    items: list[tuple[str, str, float, bool]], cache: EdgeCache, cap: int | None = None
) -> list[Edge]:
    """Edges by name; with ``cap``, only the ``cap`` most confident (ties by name, id)."""
    out = []
    for i, f, c, _ in ordered_edges(items, cap):
        edge = cache.get((i, f, c))
        if edge is None:
            edge = cache[(i, f, c)] = Edge.model_construct(node_id=i, full_name=f, confidence=c)
        out.append(edge)
    return out


def _rewrite_edges(
    conn: psycopg.Connection[Any],
    repo: str,
    rows: dict[str, _Row],
    marked: list[str],
    removed: list[str],
) -> tuple[set[str], int]:
    """1. Re-resolve the marked nodes' calls and rewrite their outgoing edges; returns the
    nodes whose edges changed at either end, and how many edges were written."""
    table = _load_symbols(conn, repo, _needed_names(rows.values()), len(marked) > BULK_THRESHOLD)
    new_edges: dict[str, dict[str, float]] = {}
    for node_id, row in rows.items():
        ctx = CallerContext(node_id, row.node.module, row.node.class_name, row.imports)
        new_edges[node_id] = resolve_node_calls(row.node.calls, ctx, table)
    old_edges: dict[str, dict[str, float]] = {}
    for src, dst, conf in conn.execute(
        "SELECT src_id, dst_id, confidence FROM hub_edges "
        "WHERE src_id = ANY(%s) OR dst_id = ANY(%s)",
        (marked, removed),
    ):
        old_edges.setdefault(src, {})[dst] = round(float(conf), 3)
    affected = set(rows)
    gone_set = set(removed)
    for src in set(old_edges) | set(new_edges):
        before = old_edges.get(src, {})
        if src in new_edges or src in gone_set:
            after = new_edges.get(src, {})
        else:  # an unmarked caller only loses its edges to removed nodes
            after = {d: c for d, c in before.items() if d not in gone_set}
        if before != after:
            affected.add(src)
            affected |= {d for d in set(before) | set(after) if before.get(d) != after.get(d)}
    conn.execute(
        "DELETE FROM hub_edges WHERE src_id = ANY(%s) OR dst_id = ANY(%s)", (marked, removed)
    )
    # Every edge of these sources was just deleted: plain COPY, no conflicts possible.
    written = bulk_insert(
        conn,
        "hub_edges",
        ["repo", "src_id", "dst_id", "confidence"],
        ((repo, s, d, c) for s, dsts in new_edges.items() for d, c in dsts.items()),
    )
    return affected, written


def _renamed_neighbours(
    conn: psycopg.Connection[Any],
    repo: str,
    rows: dict[str, _Row],
    old_states: dict[str, NodeState],
) -> set[str]:
    """A node whose full name changed (its package was renamed) shows under the old name
    in its neighbours' states: they are affected too."""
    renamed = [
        node_id
        for node_id, row in rows.items()
        if node_id in old_states and old_states[node_id].full_name != row.node.full_name
    ]
    if not renamed:
        return set()
    affected: set[str] = set()
    for src, dst in conn.execute(
        "SELECT src_id, dst_id FROM hub_edges WHERE src_id = ANY(%s) OR dst_id = ANY(%s)",
        (renamed, renamed),
    ):
        affected |= {src, dst}
    targets = sorted(
        {t for i in renamed if rows[i].node.is_test for t in tested_names(rows[i].node.name)}
    )
    if targets:
        affected |= {
            r[0]
            for r in conn.execute(
                "SELECT node_id FROM hub_nodes WHERE repo = %s AND name = ANY(%s) AND NOT is_test",
                (repo, targets),
            )
        }
    return affected


_DECISION_FIELDS = tuple(f.name for f in fields(Decision))


@lru_cache(maxsize=512)
def _decisions_json(decisions: tuple[Decision, ...]) -> str:
    # what asdict() gives, without its field-by-field deep copy (ten times the cost); most
    # nodes of a build share a few sets of decisions (rules), so most calls are hits
    return json.dumps([{k: getattr(d, k) for k in _DECISION_FIELDS} for d in decisions])


@lru_cache(maxsize=512)
def _signals_json(signals: tuple[str, ...]) -> str:
    return json.dumps(list(signals))


def _decide(
    triage: TriageBackend, bundle: DiffBundle, cache: dict[tuple[str, ...], list[Decision]]
) -> list[Decision]:
    """Triage's decisions on the bundle's candidates. The rules backend decides on the
    signals alone, so a run asks it once per set of signals (a cold build: one set for
    every node); any other backend (an LLM) sees every bundle."""
    if type(triage) is not RulesTriage:
        candidates = candidates_for(bundle)
        return triage.decide(bundle, candidates) if candidates else []
    signals = tuple(bundle.signals())
    decisions = cache.get(signals)
    if decisions is None:
        candidates = candidates_for(bundle)
        decisions = cache[signals] = triage.decide(bundle, candidates) if candidates else []
    return decisions


@dataclass
class _Derived:
    """3's outcome: states to write, traces to keep, and which nodes moved on."""

    writes: list[tuple[str, str]]
    new_keys: set[str]  # states that did not exist before
    changed_ids: list[str]
    diffed: list[str]  # kept nodes whose source moved on from their "before"
    traces: list[tuple[str, str, str, str, str, str]]


def _derive_states(
    repo: str,
    rows: dict[str, _Row],
    old_states: dict[str, NodeState],
    edges: tuple[dict[str, list[tuple[str, str, float, bool]]], ...],
    tests: dict[str, set[str]],
    triage: TriageBackend,
    run_id: str,
    now: datetime,
    report: StatesReport,
    edge_cache: EdgeCache | None = None,
) -> _Derived:
    """3. Fresh facts -> diff bundle -> rules -> triage -> tools, for every affected node."""
    callers, callees = edges
    edge_cache = {} if edge_cache is None else edge_cache
    rules_cache: dict[tuple[str, ...], list[Decision]] = {}
    out = _Derived([], set(), [], [], [])
    for node_id in sorted(rows):
        row = rows[node_id]
        fresh = _fresh_state(
            row.node, callers.get(node_id, []), callees.get(node_id, []), tests, edge_cache
        )
        old = old_states.get(node_id)
        bundle = build_diff_bundle(old, row.state_source, fresh, row.source)
        if row.state_source != row.source:
            out.diffed.append(node_id)
        decisions = _decide(triage, bundle, rules_cache)
        approved = [d.tool for d in decisions if d.verdict == "approved"]
        state = apply_tools(old, fresh, approved, now)
        report.nodes_processed += 1
        report.decisions += len(decisions)
        report.deferred += sum(1 for d in decisions if d.verdict == "deferred")
        if decisions:
            out.traces.append(
                (
                    repo,
                    run_id,
                    node_id,
                    triage.name,
                    _signals_json(tuple(bundle.signals())),
                    _decisions_json(tuple(decisions)),
                )
            )
        if old is not None and state.content() == old.content():
            report.states_unchanged += 1
            continue
        if old is None:
            report.states_added += 1
            out.new_keys.add(state_key(node_id))
        else:
            report.states_changed += 1
        out.changed_ids.append(node_id)
        out.writes.append((state_key(node_id), state.model_dump_json()))
    return out


def _store_states(
    conn: psycopg.Connection[Any],
    repo: str,
    derived: _Derived,
    removed: list[str],
    old_states: dict[str, NodeState],
    marked: list[str],
    report: StatesReport,
) -> None:
    """4. Write what changed, drop removed nodes' states, hand the work to stage 3 and
    the catalog, and consume this stage's marks — all in the caller's transaction."""
    writes = derived.writes
    bulk_insert(
        conn,
        "kv",
        ["repo", "key", "value"],
        ((repo, k, v) for k, v in writes if k in derived.new_keys),
    )
    bulk_upsert(
        conn,
        "kv",
        ["repo", "key", "value"],
        ((repo, k, v) for k, v in writes if k not in derived.new_keys),
        key=["key"],
    )
    if derived.traces:
        write_traces(conn, derived.traces)
    if derived.diffed:
        conn.execute(
            "UPDATE hub_nodes SET state_source = source WHERE repo = %s AND node_id = ANY(%s)",
            (repo, derived.diffed),
        )
    gone = {i: old_states[i].markdown_path for i in removed if i in old_states}
    if removed:
        delete_states(conn, removed)
    report.states_removed = len(gone)
    changed = derived.changed_ids
    dirty.mark_dirty(conn, repo, dirty.MARKDOWN, changed, "state changed")
    dirty.mark_dirty(conn, repo, dirty.CATALOG, changed, "state changed")
    dirty.mark_dirty_with_reasons(
        conn, repo, dirty.MARKDOWN, {i: dirty.REMOVED_PREFIX + p for i, p in gone.items()}
    )
    dirty.mark_dirty(conn, repo, dirty.CATALOG, gone, "removed")
    dirty.clear_marks(conn, repo, dirty.STATE, marked)


def refresh_states(
    store: Store,
    *,
    repo: str,
    triage: TriageBackend | None = None,
    run_id: str = "local",
    now: datetime | None = None,
) -> StatesReport:
    """Re-derive the state of every node of ``repo`` that stage 1 marked."""
    started = time.perf_counter()
    triage = triage or RulesTriage()
    now = now or datetime.now(UTC)
    report = StatesReport()
    with store.transaction() as conn:
        dirty.stage_lock(conn, repo)
        marks = dirty.dirty_marks(conn, repo, dirty.STATE)
        if not marks:
            report.duration_s = time.perf_counter() - started
            return report
        if is_first_build(conn, repo):
            report.first_build = True
            with store.connect() as reader:
                _first_build(conn, reader, repo, triage, run_id, now, report)
            report.duration_s = time.perf_counter() - started
            return report
        marked = sorted(marks)
        rows = _load_rows(conn, repo, marked)
        removed = [i for i in marked if i not in rows]

        affected, report.edges_written = _rewrite_edges(conn, repo, rows, marked, removed)
        old_states = load_states(conn, [*rows, *removed])
        affected |= _renamed_neighbours(conn, repo, rows, old_states)

        # 2. Everything whose facts may differ: marked nodes and the far ends of changed edges.
        extra = sorted(affected - set(rows) - set(removed))
        if extra:
            rows.update(_load_rows(conn, repo, extra))
            old_states.update(load_states(conn, extra))
        ids = sorted(rows)
        edges = (_edges_by(conn, "dst_id", ids), _edges_by(conn, "src_id", ids))
        tests = _tests_by_target(
            conn, repo, {r.node.name for r in rows.values()}, len(ids) > BULK_THRESHOLD
        )
        derived = _derive_states(repo, rows, old_states, edges, tests, triage, run_id, now, report)
        _store_states(conn, repo, derived, removed, old_states, marked, report)
    report.duration_s = time.perf_counter() - started
    return report


def _first_build(
    conn: psycopg.Connection[Any],
    reader: psycopg.Connection[Any],
    repo: str,
    triage: TriageBackend,
    run_id: str,
    now: datetime,
    report: StatesReport,
) -> None:
    """Every node new (see states_first_build): edges resolved in one streaming pass, then
    states derived and copied out batch by batch (as plain JSON under the rules backend,
    see new_states; by the general per-node code under any other).

    The stage's transaction (``conn``) is written by a background thread while this one
    reads on ``reader`` (what stage 1 committed) and derives the next batch: PostgreSQL
    takes in one batch while Python computes the next (background_writes)."""
    tests = _tests_by_target(reader, repo, set(), True)
    new_states = _rules_new_states(triage, tests, now)
    with BackgroundWrites(conn) as writes:
        if new_states is not None:
            # every node gets a state on this path, so every node of the repository is
            # marked for stages 3 and 4, and (one decision for all) gets the same trace:
            # made in the server while the calls are resolved
            writes.submit(partial(_mark_every_node_changed, repo=repo))
            if new_states.decisions:
                writes.submit(
                    partial(
                        write_trace_of_every_node,
                        repo=repo,
                        run_id=run_id,
                        backend=new_states.triage_name,
                        signals_json=new_states.signals_json,
                        decisions_json=new_states.decisions_json,
                    ),
                    depth=2,
                )
        table, ends = load_symbols(reader, repo)
        ids = sorted(ends)
        # every row new: psycopg's C write_row, which costs less CPU than COPY text
        # encoded in Python (measured here: 130k edges 0.2 s against 0.4-0.7 s; 44k
        # states 0.15 s against 0.3-0.5 s). Each batch of calls' edges is stored while
        # the next resolves: queued behind the marks and traces (small rows, and held
        # until written either way), not waited for.
        report.edges_written, callers, callees = resolve_all(
            reader,
            repo,
            table,
            ends,
            lambda rows: writes.submit(
                partial(bulk_insert, table="hub_edges", columns=EDGE_COLUMNS, rows=rows),
                depth=EDGE_BATCHES_QUEUED,
            ),
        )
        del table
        changed: list[str] = []
        diffed: list[str] = []
        edge_cache: EdgeCache = {}
        for facts in stream_facts(reader, repo):
            if new_states is not None:
                derived = _derive_new_states(facts, (callers, callees), new_states, report)
            else:  # another backend sees every node's bundle: the general per-node code
                rows = {
                    node.node_id: _Row(node, source, state_source, {})
                    for node, source, state_source in (
                        (trusted_code_node(extract), source, state_source)
                        for extract, source, state_source in facts
                    )
                }
                derived = _derive_states(
                    repo, rows, {}, (callers, callees), tests, triage, run_id, now, report,
                    edge_cache,
                )  # fmt: skip
            del facts
            writes.submit(partial(_write_derived, repo=repo, derived=derived))
            changed += derived.changed_ids
            diffed += derived.diffed
            del derived
        writes.wait()
    if diffed:  # what the general path does for each node whose "before" differs
        conn.execute(
            "UPDATE hub_nodes SET state_source = source WHERE repo = %s AND node_id = ANY(%s)",
            (repo, diffed),
        )
    if new_states is None:
        if len(changed) == len(ids):  # every node of the repository: marked in the server
            _mark_every_node_changed(conn, repo)
        else:
            dirty.mark_dirty(conn, repo, dirty.MARKDOWN, changed, "state changed")
            dirty.mark_dirty(conn, repo, dirty.CATALOG, changed, "state changed")
    elif len(changed) != len(ids):
        raise RuntimeError(  # _derive_new_states gives every node a state
            f"first build of {repo!r}: {len(changed)} states for {len(ids)} nodes"
        )
    # every state mark of the repository was read under the stage lock: this stage's
    dirty.clear_every_mark(conn, repo, dirty.STATE)


def _mark_every_node_changed(conn: psycopg.Connection[Any], repo: str) -> None:
    for stage in (dirty.MARKDOWN, dirty.CATALOG):
        dirty.mark_every_node(conn, repo, stage, "state changed", renew=True)


def _write_derived(conn: psycopg.Connection[Any], repo: str, derived: _Derived) -> None:
    """A batch's new states and traces (every key new on a first build)."""
    bulk_insert(conn, "kv", ["repo", "key", "value"], ((repo, k, v) for k, v in derived.writes))
    if derived.traces:
        write_traces(conn, derived.traces)


@dataclass
class _NewStates:
    """What every new node of a first build shares under the rules backend."""

    builder: NewStates
    decisions: list[Decision]
    signals_json: str
    decisions_json: str
    triage_name: str


def _rules_new_states(
    triage: TriageBackend, tests: dict[str, set[str]], now: datetime
) -> _NewStates | None:
    """The rules backend decides on a bundle's signals alone, and a new node's bundle
    signals ``new_node`` only (no old state: no relational or structural change): one
    decision for the whole build. None for any other backend (see new_states)."""
    if type(triage) is not RulesTriage:
        return None
    bundle = DiffBundle(
        node_id="",
        is_new=True,
        source_changed=True,
        standard=StandardDiff(),
        structural=StructuralDiff(),
        ast=AstDiff(),
        relational=RelationalDiff(),
    )
    signals = tuple(bundle.signals())
    decisions = _decide(triage, bundle, {})
    approved = [d.tool for d in decisions if d.verdict == "approved"]
    return _NewStates(
        NewStates(tests, updated_of(approved, stamp_json(now))),
        decisions,
        _signals_json(signals),
        _decisions_json(tuple(decisions)),
        triage.name,
    )


def _derive_new_states(
    facts: list[tuple[dict[str, Any], str, str | None]],
    edges: tuple[dict[str, list[EdgeEnd]], dict[str, list[EdgeEnd]]],
    shared: _NewStates,
    report: StatesReport,
) -> _Derived:
    """What ``_derive_states`` gives for nodes with no state, under the rules backend,
    their traces aside (see ``_first_build``)."""
    callers, callees = edges
    out = _Derived([], set(), [], [], [])
    state = shared.builder.state
    none: list[EdgeEnd] = []  # read only
    writes, diffed = out.writes, out.diffed
    for extract, source, state_source in facts:
        node_id: str = extract["node_id"]
        if state_source != source:
            diffed.append(node_id)
        node_state = state(extract, callers.get(node_id, none), callees.get(node_id, none))
        writes.append((state_key(node_id), state_json(node_state)))
    # every node gets a state, new, and the one decision (its trace, alike for every
    # node, is written for all at once by _first_build)
    out.changed_ids = [extract["node_id"] for extract, _, _ in facts]
    out.new_keys = {key for key, _ in writes}
    n = len(facts)
    report.nodes_processed += n
    report.states_added += n
    report.decisions += n * len(shared.decisions)
    report.deferred += n * sum(1 for d in shared.decisions if d.verdict == "deferred")
    return out


def _fresh_state(
    node: CodeNode,
    callers: list[tuple[str, str, float, bool]],
    callees: list[tuple[str, str, float, bool]],
    tests: dict[str, set[str]],
    edge_cache: EdgeCache,
) -> NodeState:
    state = NodeState.model_construct(  # trusted: every field derived right here
        node_id=node.node_id,
        kind=node.kind,
        name=node.name,
        qualname=node.qualname,
        full_name=node.full_name,
        file_path=node.file_path,
        language=node.language,
        start_line=node.start_line,
        end_line=node.end_line,
        source_hash=node.source_hash,
        signature=node.signature,
        decorators=list(node.decorators),
        docstring_summary=first_sentence(node.docstring),
        complexity=node.complexity,
        callers=_edge_list(callers, edge_cache, CALLERS_CAP),
        callers_total=len(callers),
        callees=_edge_list(callees, edge_cache),
        related_tests=related_tests(
            node.full_name, node.name, node.kind, node.is_test, callers, tests
        ),
        is_test=node.is_test,
        markdown_path=markdown_relpath(node.file_path, node.qualname, node.ordinal),
        # given, not defaulted: a default_factory costs pydantic an inspect.signature()
        updated={},
    )
    state.summary = summarize(state)
    state.suggested_test = suggest_test_skeleton(state, node.module)
    return state
