"""Test creation and verification (demo 3): a public function without a matching test
gets a runnable skeleton, run alone, its log kept; trust levels decide where it goes.

The signal is the node state's ``suggested_test`` (set while no test covers a public
function or method, by the naming convention the hub already uses). The skeleton written
here pins what the hub knows for sure: the symbol imports, is callable, and takes the
parameters its signature names, so it passes on today's code and fails the day the
signature changes without the test following.

Trust (``kgents_assets.trust``): 0 logs the intent; 1 writes the skeleton under
``.agentfs/tests/`` and runs it there; 2 writes the same skeleton there and asks a person
(a semaphore in purgatory, context a daemon proposal, so the gateway's ``daemon`` agent
and page can approve it) before it goes into the repository's ``tests/``; 3 writes it into
``tests/`` and runs it. An existing file is never overwritten. Each run (pytest on that one
node id, in a subprocess with a time limit; one a caller started early, ``hub.warm_pytest``,
when it knew a test may follow) is a row of ``hub_test_runs`` and a trace in
``hub_traces`` with its log; a failing skeleton is recorded as failing and nothing else
changes.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psycopg

from kgents_assets.flux.purgatory import Purgatory
from kgents_assets.flux.semaphore import Semaphore, Severity, TokenStatus
from kgents_assets.fs.atomic import atomic_write_text
from kgents_assets.hub import test_scope
from kgents_assets.hub.artifacts import record_artifact
from kgents_assets.hub.generated_tests import last_generated_tests
from kgents_assets.hub.markdown import render_markdown
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.state_store import load_repo_states, load_state, load_states
from kgents_assets.hub.test_scope import public
from kgents_assets.hub.traces import write_trace
from kgents_assets.hub.warm_pytest import pytest_env
from kgents_assets.store import Store
from kgents_assets.trust import TrustDecision, TrustLevel, Verdict, decide

if TYPE_CHECKING:
    from kgents_assets.hub.warm_pytest import WarmPytest

AGENTFS_TESTS = Path(".agentfs") / "tests"
#: the gateway's hosted agent whose purgatory shows (and resolves) these proposals
APPROVER_AGENT = "daemon"
#: the ``kind`` in a proposal's semaphore context, by which the approver recognizes it
PROPOSAL_KIND = "hub_test_creation"
RUN_TIMEOUT_S = 120.0
MAX_LOG = 20_000
Outcome = Literal["logged", "passed", "failed", "timeout", "awaiting_human", "rejected", "exists"]


@dataclass(frozen=True)
class Candidate:
    node_id: str
    full_name: str
    qualname: str
    name: str
    module: str
    kind: str
    file_path: str
    signature: str


@dataclass(frozen=True)
class TestRun:
    __test__ = False

    node_id: str
    outcome: Outcome
    test_path: str | None  # repository-relative
    pytest_id: str | None
    exit_code: int | None = None
    duration_s: float | None = None
    log: str = ""
    token_id: str | None = None


def candidates(
    conn: psycopg.Connection[Any], repo: str, node_ids: Iterable[str] | None = None
) -> list[Candidate]:
    """Public functions and methods of ``repo`` (among ``node_ids`` when given) that no
    test covers yet."""
    chosen = None if node_ids is None else list(node_ids)
    states = load_repo_states(conn, repo) if chosen is None else load_states(conn, chosen)
    modules = dict(
        conn.execute(
            "SELECT node_id, extract->>'module' FROM hub_nodes "
            "WHERE repo = %s AND node_id = ANY(%s)",
            (repo, [i for i, s in states.items() if s.suggested_test]),
        ).fetchall()
    )
    return [
        Candidate(
            node_id=s.node_id, full_name=s.full_name, qualname=s.qualname, name=s.name,
            module=modules.get(s.node_id) or "", kind=s.kind, file_path=s.file_path,
            signature=s.signature,
        )
        for s in sorted(states.values(), key=lambda s: s.full_name)
        if s.suggested_test and modules.get(s.node_id)
    ]  # fmt: skip


def _parameters(signature: str) -> list[str]:
    """Parameter names of a ``def`` line, in order (``self``/``cls`` of methods included)."""
    text = signature.strip()
    if not text.endswith(":"):
        text += ":"
    try:
        tree = ast.parse(f"{text}\n    pass\n")
    except SyntaxError:
        return []
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args)]
    names += [f"*{a.vararg.arg}"] if a.vararg else []
    names += [p.arg for p in a.kwonlyargs]
    names += [f"**{a.kwarg.arg}"] if a.kwarg else []
    return names


def skeleton(candidate: Candidate) -> tuple[str, str]:
    """(test function name, file text) of the skeleton for ``candidate``."""
    owner = candidate.qualname.split(".", 1)[0]
    target = owner if candidate.kind == "function" else f"{owner}.{candidate.name}"
    test_name = f"test_{candidate.name.lstrip('_')}"
    params = [p.lstrip("*") for p in _parameters(candidate.signature)]
    text = (
        '"""Written by the kgents hub: a skeleton that pins the signature of '
        f'{candidate.full_name}; replace it with a real test."""\n\n'
        "import inspect\n\n"
        f"from {candidate.module} import {owner}\n\n\n"
        f"def {test_name}() -> None:\n"
        f"    # {candidate.signature}\n"
        f"    assert callable({target})\n"
        f"    assert list(inspect.signature({target}).parameters) == {params!r}\n"
    )
    return test_name, text


def target_paths(candidate: Candidate) -> tuple[str, str]:
    """(under .agentfs/tests/, in the repository's tests/) relative paths of the file."""
    flat = candidate.module.replace(".", "_")
    name = f"test_{flat}_{candidate.qualname.replace('.', '_')}.py"
    return (AGENTFS_TESTS / name).as_posix(), f"tests/{name}"


def run_one(
    root: Path,
    rel_path: str,
    test_name: str,
    timeout_s: float = RUN_TIMEOUT_S,
    warm: WarmPytest | None = None,
) -> TestRun:
    """pytest on exactly one node id, in a subprocess, with a time limit. ``warm``: a
    ``WarmPytest`` started for ``root`` runs it (its start already made)."""
    node = f"{rel_path}::{test_name}"
    started = time.perf_counter()
    args = ["-q", "-p", "no:cacheprovider", "--rootdir", str(root), "-o", "addopts=", node]
    try:
        if warm is not None and warm.available and warm.root == root:
            done = warm.run(args, timeout_s)
        else:
            done = subprocess.run(
                [sys.executable, "-m", "pytest", *args], cwd=root, env=pytest_env(),
                capture_output=True, text=True, timeout=timeout_s, check=False,
            )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return TestRun("", "timeout", rel_path, node, None, timeout_s,
                       f"{out}\n[killed after {timeout_s:g} s]"[-MAX_LOG:])  # fmt: skip
    outcome: Outcome = "passed" if done.returncode == 0 else "failed"
    log = (done.stdout + done.stderr)[-MAX_LOG:]
    duration = round(time.perf_counter() - started, 3)
    return TestRun("", outcome, rel_path, node, done.returncode, duration, log)


def _record(
    conn: psycopg.Connection[Any], repo: str, run: TestRun, level: TrustLevel, reason: str
) -> None:
    conn.execute(
        "INSERT INTO hub_test_runs (repo, node_id, trust_level, outcome, test_path, pytest_id, "
        "exit_code, duration_s, log, token_id, reason) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (repo, run.node_id, int(level), run.outcome, run.test_path, run.pytest_id,
         run.exit_code, run.duration_s, run.log, run.token_id, reason),
    )  # fmt: skip
    write_trace(
        conn, run_id=f"test-creation:{run.token_id or run.outcome}", node_id=run.node_id,
        backend="test_creation", signals=["untested_public_function"],
        decisions=[{"tool": "generate_test_skeleton", "verdict": run.outcome, "reason": reason,
                    "test": run.pytest_id, "exit_code": run.exit_code, "log": run.log}],
    )  # fmt: skip


def _with_node(run: TestRun, node_id: str, **changes: Any) -> TestRun:
    return TestRun(**{**run.__dict__, "node_id": node_id, **changes})


def _run_written(
    root: Path,
    rel: str,
    agentfs_rel: str,
    test_name: str,
    text: str,
    node_id: str,
    token_id: str | None = None,
) -> TestRun:
    """Run the skeleton just written at ``rel``. One that does not pass leaves the
    repository as it was: it is taken out of ``tests/`` again (we wrote it a moment ago)
    and kept under ``.agentfs/tests/`` for a person to look at."""
    run = _with_node(run_one(root, rel, test_name), node_id, token_id=token_id)
    if run.outcome != "passed" and rel != agentfs_rel:
        (root / rel).unlink(missing_ok=True)
        if not (root / agentfs_rel).exists():
            atomic_write_text(root / agentfs_rel, text)
    return run


def _write_new(root: Path, rel: str, text: str) -> bool:
    """Write ``text`` at ``rel`` unless a file is there: never overwrite."""
    path = root / rel
    if path.exists():
        return False
    atomic_write_text(path, text)
    return True


def create_test(store: Store, repo: str, root: Path, candidate: Candidate, level: int) -> TestRun:
    """Carry out test creation for one candidate at trust ``level``."""
    trust = TrustLevel(level)
    test_name, text = skeleton(candidate)
    agentfs_rel, repo_rel = target_paths(candidate)
    rel, agentfs_rel, decision = _placement(trust, candidate)
    if decision.verdict == Verdict.LOG:
        run = TestRun(candidate.node_id, "logged", None, None)
    elif decision.verdict == Verdict.ASK:
        _write_new(root, agentfs_rel, text)  # what the person is asked about, to read
        token = Purgatory(store).eject(
            APPROVER_AGENT,
            Semaphore(
                reason=f"the hub wrote a test for {candidate.full_name}, which has none",
                prompt=f"Add {repo_rel} (a skeleton pinning {candidate.signature}) to the "
                "repository's tests and run it?",
                options=["approve", "reject"],
                severity=Severity.INFO,
            ),
            context={
                "action": f"add test {repo_rel}",
                "trust": int(trust),
                "writes": [repo_rel],
                "kind": PROPOSAL_KIND,
                "repo": repo,
                "node_id": candidate.node_id,
                "full_name": candidate.full_name,
                "test_name": test_name,
                "skeleton": text,
            },
            repo=repo,
        )
        run = TestRun(candidate.node_id, "awaiting_human", repo_rel, None, token_id=token.id)
    elif not _write_new(root, rel, text):
        run = TestRun(candidate.node_id, "exists", rel, None)
    else:
        run = _run_written(root, rel, agentfs_rel, test_name, text, candidate.node_id)
    return _conclude(store, repo, root, candidate, run, trust, decision.reason)


def _placement(trust: TrustLevel, candidate: Candidate) -> tuple[str, str, TrustDecision]:
    """(where the skeleton goes, its .agentfs/tests/ path, the trust decision)."""
    agentfs_rel, repo_rel = target_paths(candidate)
    decision = decide(trust, [repo_rel])  # the goal: a test in the repository's tests/
    if decision.verdict == Verdict.LOG and decide(trust, [agentfs_rel]).verdict == Verdict.ACT:
        return agentfs_rel, agentfs_rel, decide(trust, [agentfs_rel])  # at least .agentfs/
    return repo_rel, agentfs_rel, decision


def _conclude(
    store: Store,
    repo: str,
    root: Path,
    candidate: Candidate,
    run: TestRun,
    trust: TrustLevel,
    reason: str,
) -> TestRun:
    """Record ``run``, announce it, and annotate the node's markdown when a test ran."""
    with store.transaction() as conn:
        _record(conn, repo, run, trust, reason)
        _announce(conn, repo, candidate.full_name, run)
    if run.outcome in ("passed", "failed", "timeout"):
        annotate_markdown(store, root, candidate.node_id)
    return run


def _finish_started(store: Store, repo: str, root: Path, level: int, started: _Started) -> TestRun:
    """``create_test``'s end for a skeleton written and run early (``PendingCreation``)."""
    (outcome,) = started.result
    if isinstance(outcome, BaseException):
        raise outcome
    run = _with_node(outcome, started.candidate.node_id, token_id=None)
    if run.outcome != "passed" and started.rel != started.agentfs_rel:
        (root / started.rel).unlink(missing_ok=True)
        if not (root / started.agentfs_rel).exists():
            atomic_write_text(root / started.agentfs_rel, started.text)
    return _conclude(store, repo, root, started.candidate, run, TrustLevel(level), started.reason)


def _announce(conn: psycopg.Connection[Any], repo: str, subject: str, run: TestRun) -> None:
    """A test written and run, or proposed to a person, in the artifact journal (the
    gateway's hub stream shows it)."""
    if run.outcome == "awaiting_human":
        record_artifact(
            conn, repo, "test_proposed", subject, run.test_path,
            f"test for {subject} proposed: {run.test_path} waits for approval ({run.token_id})",
            {"token_id": run.token_id, "node_id": run.node_id},
        )  # fmt: skip
    elif run.outcome in ("passed", "failed", "timeout"):
        record_artifact(
            conn, repo, "test_created", subject, run.test_path,
            f"test for {subject} written and run: {run.pytest_id} {run.outcome}",
            {"node_id": run.node_id, "pytest_id": run.pytest_id, "outcome": run.outcome,
             "exit_code": run.exit_code, "duration_s": run.duration_s},
        )  # fmt: skip


def settle(store: Store, repo: str, root: Path) -> list[TestRun]:
    """Act on the proposals a person decided: approved -> written into tests/ and run;
    rejected or cancelled -> recorded, nothing written. Pending ones wait."""
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (token_id) node_id, token_id, test_path FROM hub_test_runs "
            "WHERE repo = %s AND token_id IS NOT NULL ORDER BY token_id, id DESC",
            (repo,),
        ).fetchall()
        settled_ids = {
            r[0]
            for r in conn.execute(
                "SELECT token_id FROM hub_test_runs WHERE repo = %s AND outcome <> "
                "'awaiting_human' AND token_id IS NOT NULL",
                (repo,),
            ).fetchall()
        }
    purgatory = Purgatory(store)
    out: list[TestRun] = []
    for node_id, token_id, rel in rows:
        if token_id in settled_ids:
            continue
        token = purgatory.get(token_id)
        if token.status == TokenStatus.PENDING:
            continue
        approved = token.status == TokenStatus.RESOLVED and _approves(token.resolution)
        context = token.context or {}
        if not approved:
            run = TestRun(node_id, "rejected", rel, None, token_id=token_id)
            reason = f"a person said no ({token.status.value})"
        elif not _write_new(root, rel, str(context.get("skeleton", ""))):
            run = TestRun(node_id, "exists", rel, None, token_id=token_id)
            reason = "approved, but the file exists now: not overwritten"
        else:
            agentfs_rel = (AGENTFS_TESTS / Path(rel).name).as_posix()
            run = _run_written(
                root, rel, agentfs_rel, str(context.get("test_name")),
                str(context.get("skeleton", "")), node_id, token_id=token_id,
            )  # fmt: skip
            reason = "approved by a person"
        with store.transaction() as conn:
            _record(conn, repo, run, TrustLevel.PROPOSE, reason)
            _announce(conn, repo, str(context.get("full_name") or node_id), run)
        if run.outcome in ("passed", "failed", "timeout"):
            annotate_markdown(store, root, node_id)
        out.append(run)
    return out


def _approves(resolution: Any) -> bool:
    if isinstance(resolution, str):
        return resolution.strip().lower() in {"approve", "approved", "yes"}
    if isinstance(resolution, dict):
        return resolution.get("approve") is True or _approves(resolution.get("choice"))
    return resolution is True


def annotate_markdown(store: Store, root: Path, node_id: str) -> None:
    """Re-render the node's markdown now that its generated test ran: the renderer reads
    the last run from ``hub_test_runs``, so the file is what any later render writes."""
    with store.connect() as conn:
        state: NodeState | None = load_state(conn, node_id)
        generated = last_generated_tests(conn, [node_id]).get(node_id)
    if state is None or not state.markdown_path:
        return
    path = root / state.markdown_path
    if not path.parent.is_dir():
        return  # its markdown was never written here (node_markdown has not run)
    atomic_write_text(path, render_markdown(state, generated))


#: skeletons written and run per repository run (each a pytest process, ~1-3 s here); the
#: rest stay "new" for the next run, so a merge that adds hundreds of functions does not
#: hold one refresh for minutes.
MAX_PER_RUN = 5


@dataclass
class CreationReport:
    """What one run of test creation for a repository did."""

    baseline: bool = False  # first run: the functions seen were recorded, nothing created
    trust: TrustLevel = TrustLevel.AGENTFS
    new_or_changed: int = 0  # public functions new or changed since the previous run
    deferred: int = 0  # candidates past MAX_PER_RUN, left for the next run
    runs: list[TestRun] = field(default_factory=list)  # created now and settled proposals

    def count(self, *outcomes: str) -> int:
        return sum(1 for r in self.runs if r.outcome in outcomes)

    def summary(self) -> dict[str, Any]:
        """The figures a run reports (the asset's metadata, the watch daemon's record)."""
        return {
            "trust_level": int(self.trust),
            "baseline": self.baseline,
            "new_or_changed": self.new_or_changed,
            # written: run now, or (trust 2) under .agentfs/tests/ for the person to read
            "created": self.count("passed", "failed", "timeout", "awaiting_human"),
            "ran": self.count("passed", "failed", "timeout"),
            "passed": self.count("passed"),
            "failed": self.count("failed", "timeout"),
            "awaiting_approval": self.count("awaiting_human"),
            "logged_only": self.count("logged"),
            "deferred": self.deferred,
            "paths": sorted({r.test_path for r in self.runs if r.test_path}),
        }


def _public_functions(conn: psycopg.Connection[Any], repo: str) -> dict[str, str]:
    """node id -> hash of its source, for the public functions and methods of ``repo``."""
    rows = conn.execute(
        "SELECT node_id, qualname, file_path, md5(source) FROM hub_nodes "
        "WHERE repo = %s AND NOT is_test AND kind IN ('function', 'method')",
        (repo,),
    ).fetchall()
    return {node_id: digest for node_id, qual, path, digest in rows if public(qual, path)}


def _remember(conn: psycopg.Connection[Any], repo: str, seen: dict[str, str]) -> None:
    if not seen:
        return
    conn.execute(
        "INSERT INTO hub_test_seen (repo, node_id, source_hash) "
        "SELECT %s, unnest(%s::text[]), unnest(%s::text[]) "
        "ON CONFLICT (repo, node_id) DO UPDATE SET source_hash = EXCLUDED.source_hash",
        (repo, list(seen), list(seen.values())),
    )


def create_tests_for_changes(
    store: Store, repo: str, root: Path, level: int, limit: int = MAX_PER_RUN
) -> CreationReport:
    """Demo 3 for one repository after a refresh: settle the proposals people decided,
    then give each public function that is NEW or CHANGED since the previous run and has
    no matching test a skeleton, at trust ``level``.

    The first run of a repository only records what it sees (the baseline): a cold build
    of a large repository would otherwise write a test for every untested function. A
    function is remembered once handled, so a run that stops midway redoes only the rest.
    """
    return begin_tests_for_changes(store, repo, root, level, limit).finish()


def _unsettled_proposals(conn: psycopg.Connection[Any], repo: str) -> bool:
    """Some proposal of ``repo`` has no outcome recorded yet (``settle`` may act on it)."""
    row = conn.execute(
        "SELECT 1 FROM hub_test_runs p WHERE p.repo = %s AND p.token_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM hub_test_runs s WHERE s.repo = p.repo "
        "AND s.token_id = p.token_id AND s.outcome <> 'awaiting_human') LIMIT 1",
        (repo,),
    ).fetchone()
    return row is not None


@dataclass
class _Started:
    """The first candidate's skeleton, written, its pytest running in a thread."""

    candidate: Candidate
    rel: str
    agentfs_rel: str
    text: str
    reason: str
    thread: threading.Thread
    result: list[TestRun | BaseException] = field(default_factory=list)


class PendingCreation:
    """``create_tests_for_changes`` begun: what changed is known and the first
    skeleton's pytest runs while the caller does other work; :meth:`finish` does the rest
    in today's order (settled proposals, then each candidate: written, run, recorded,
    its markdown annotated) and returns the same report.

    Begun early only when nothing can come between: no proposal waits to be settled
    (settling first could write the same file). Otherwise everything waits for
    :meth:`finish`. An error while beginning is raised by :meth:`finish`, where the
    step would have raised it. ``warm`` (a ``WarmPytest``) runs that first skeleton; one
    that gets nothing to run is closed as soon as that is known."""

    def __init__(
        self,
        store: Store,
        repo: str,
        root: Path,
        level: int,
        limit: int,
        warm: WarmPytest | None = None,
    ) -> None:
        self.store, self.repo, self.root, self.level, self.limit = store, repo, root, level, limit
        self.report = CreationReport(trust=TrustLevel(level))
        self._chosen: list[Candidate] | None = None  # None: not begun, all in finish
        self._now: dict[str, str] = {}
        self._scope: test_scope.Scope | None = None
        self._started: _Started | None = None
        self._error: BaseException | None = None
        try:
            self._begin(warm)
        except Exception as exc:  # the step's failure, said where the step runs
            self._error = exc
        finally:
            if warm is not None and self._started is None:
                warm.close()  # nothing for it: its CPU goes back to the caller now

    @property
    def started(self) -> bool:
        """A skeleton's pytest is under way (the caller must :meth:`finish`)."""
        return self._started is not None

    def _choose(self) -> list[Candidate]:
        """What changed since the last run, and the candidates among it (baseline: none).

        Only the files that moved since test creation last looked are examined
        (``hub.test_scope``: the same functions come out as from the whole repository)."""
        with self.store.transaction() as conn:
            test_scope.lock(conn, self.repo)
            baseline = conn.execute(
                "SELECT 1 FROM hub_test_baselines WHERE repo = %s", (self.repo,)
            ).fetchone()
            if baseline is None:
                conn.execute(
                    "INSERT INTO hub_test_baselines (repo) VALUES (%s) ON CONFLICT DO NOTHING",
                    (self.repo,),
                )
                _remember(conn, self.repo, _public_functions(conn, self.repo))
                test_scope.record(conn, self.repo, test_scope.Scope(None), None)
                self.report.baseline = True
                return []
            scope = test_scope.load_scope(conn, self.repo)
            examined = scope.files
            looked = None if examined is None else [*examined, *scope.removed]
            test_scope.forget_removed(
                conn, self.repo, None if looked is None else scope.known_ids(looked)
            )
            now = test_scope.changed_public_functions(conn, self.repo, examined)
            changed = sorted(now)
            self.report.new_or_changed = len(changed)
            found = {c.node_id: c for c in candidates(conn, self.repo, changed)}
            # functions that changed but have a test need nothing: remember them now
            _remember(conn, self.repo, {i: now[i] for i in changed if i not in found})
            scope.recorded.update(test_scope.record(conn, self.repo, scope, looked))
            scope.removed = []
        self._now, self._scope = now, scope
        chosen = sorted(found.values(), key=lambda c: c.full_name)
        self.report.deferred = max(0, len(chosen) - self.limit)
        return chosen[: self.limit]

    def _begin(self, warm: WarmPytest | None) -> None:
        with self.store.connect() as conn:
            if _unsettled_proposals(conn, self.repo):
                return
        self._chosen = self._choose()
        if not self._chosen:
            return
        candidate = self._chosen[0]
        trust = TrustLevel(self.level)
        rel, agentfs_rel, decision = _placement(trust, candidate)
        if decision.verdict != Verdict.ACT:
            return
        test_name, text = skeleton(candidate)
        if not _write_new(self.root, rel, text):
            return  # a file is there: create_test says "exists" in finish
        result: list[TestRun | BaseException] = []

        def run() -> None:
            try:
                result.append(run_one(self.root, rel, test_name, warm=warm))
            except BaseException as exc:  # raised where create_test would raise it
                result.append(exc)

        thread = threading.Thread(target=run, name=f"pytest {rel}", daemon=True)
        thread.start()
        self._started = _Started(candidate, rel, agentfs_rel, text, decision.reason, thread, result)

    def finish(self) -> CreationReport:
        started, self._started = self._started, None
        if started is not None:
            started.thread.join()
        if self._error is not None:
            raise self._error
        report = self.report
        report.runs.extend(settle(self.store, self.repo, self.root))
        chosen = self._choose() if self._chosen is None else self._chosen
        for candidate in chosen:
            if started is not None and candidate is started.candidate:
                run = _finish_started(self.store, self.repo, self.root, self.level, started)
            else:
                run = create_test(self.store, self.repo, self.root, candidate, self.level)
            report.runs.append(run)
            with self.store.transaction() as conn:
                _remember(conn, self.repo, {candidate.node_id: self._now[candidate.node_id]})
        if chosen and self._scope is not None:
            # the files of the functions handled now: no longer outstanding unless some
            # were left for the next run
            with self.store.transaction() as conn:
                test_scope.lock(conn, self.repo)
                files = {c.file_path for c in chosen}
                self._scope.recorded.update(test_scope.record(conn, self.repo, self._scope, files))
        return report


def begin_tests_for_changes(
    store: Store,
    repo: str,
    root: Path,
    level: int,
    limit: int = MAX_PER_RUN,
    warm: WarmPytest | None = None,
) -> PendingCreation:
    """``create_tests_for_changes`` in two halves: this one starts the first skeleton's
    pytest (when it can; in ``warm`` when given), ``finish()`` on what it returns completes
    the rest."""
    return PendingCreation(store, repo, root, level, limit, warm)
