"""Every event as a sentence a person reads first (the raw JSON stays one click away).

One function per event type, each taking the event's ``data`` dict as it travels on a
stream (``/observe``), so the page, ``kg world`` and ``--json`` outputs say the same words.
:func:`describe` picks the function by type; an unknown type still gets a readable line.
The functions never raise on odd data: a sentence that cannot be made falls back to
listing the fields, because a stream must not stop over wording.

Sources of the types: Dagster runs and materializations (the ``pipeline`` and ``hub``
agents), the flux runtime (state changes, perturbations, semaphores), the watch daemon's
events (``sensors.events`` kinds, posted to the ``daemon`` agent) and the demo world's
fixture reloads (the ``world`` agent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Data = Mapping[str, Any]
Sentence = Callable[[Data], str]

SENTENCES: dict[str, Sentence] = {}


def sentence(*types: str) -> Callable[[Sentence], Sentence]:
    def register(fn: Sentence) -> Sentence:
        for type_ in types:
            SENTENCES[type_] = fn
        return fn

    return register


def describe(event_type: str, data: Data | None) -> str:
    """The sentence for one event; falls back to ``type: key=value, ...``."""
    data = data or {}
    fn = SENTENCES.get(event_type)
    if fn is not None:
        try:
            return fn(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            pass  # malformed data for its type: say what there is instead
    return _fallback(event_type, data)


def with_summary(event_type: str, data: Data | None) -> dict[str, Any]:
    """``data`` plus its ``summary`` (kept if the emitter already wrote one)."""
    out = dict(data or {})
    if not isinstance(out.get("summary"), str):
        out["summary"] = describe(event_type, out)
    return out


# -- small words --------------------------------------------------------------------------


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def short_id(value: Any, n: int = 8) -> str:
    text = str(value or "?")
    return text if len(text) <= n else text[:n] + "…"


def seconds(value: Any) -> str:
    s = float(value)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 90:
        return f"{s:.1f} s"
    return f"{s / 60:.1f} min"


def _fallback(event_type: str, data: Data) -> str:
    shown = [
        f"{k}={_short(v)}"
        for k, v in data.items()
        if k not in ("summary", "storage_id", "dagster_timestamp") and v not in (None, "", [], {})
    ][:4]
    return f"{event_type.replace('_', ' ')}" + (f": {', '.join(shown)}" if shown else "")


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(meta: Data, key: str) -> int:
    value = meta.get(key)
    value = getattr(value, "value", value)  # a Dagster MetadataValue, as kg hub has them
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# -- Dagster: materializations and runs ------------------------------------------------


def _code_nodes(meta: Data) -> list[str]:
    parts = []
    if n := _int(meta, "nodes_added"):
        parts.append(f"+{plural(n, 'node')}")
    if n := _int(meta, "nodes_changed"):
        parts.append(f"{plural(n, 'node')} changed")
    if n := _int(meta, "nodes_removed"):
        parts.append(f"-{plural(n, 'node')}")
    if n := _int(meta, "files_changed"):
        parts.append(f"{plural(n, 'file')} re-parsed")
    if n := _int(meta, "files_deleted"):
        parts.append(f"{plural(n, 'file')} deleted")
    if n := _int(meta, "parse_errors"):
        parts.append(plural(n, "parse error"))
    return parts


def _node_state(meta: Data) -> list[str]:
    parts = []
    if n := _int(meta, "states_added"):
        parts.append(f"+{plural(n, 'state')}")
    if n := _int(meta, "states_changed"):
        parts.append(f"{plural(n, 'state')} changed")
    if n := _int(meta, "states_removed"):
        parts.append(f"-{plural(n, 'state')}")
    return parts


def _node_markdown(meta: Data) -> list[str]:
    parts = []
    if n := _int(meta, "written"):
        parts.append(f"{plural(n, 'file')} written")
    if n := _int(meta, "removed"):
        parts.append(f"{plural(n, 'file')} removed")
    return parts


def _catalog(meta: Data) -> list[str]:
    parts = []
    for key, word in (("entries_added", "added"), ("entries_updated", "updated")):
        if n := _int(meta, key):
            parts.append(f"{plural(n, 'entry', 'entries')} {word}")
    if n := _int(meta, "entries_removed"):
        parts.append(f"{n} removed")
    if not parts and (n := _int(meta, "entries_reembedded")):  # a new embedder: all of them
        parts.append(f"{plural(n, 'entry', 'entries')} re-embedded")
    return parts


def _api_impact(meta: Data) -> list[str]:
    parts = []
    if n := _int(meta, "api_changes"):
        parts.append(f"{plural(n, 'public API change')}")
    if n := _int(meta, "broken_callsites"):
        parts.append(f"{plural(n, 'broken callsite')}")
    return parts


def _test_skeletons(meta: Data) -> list[str]:
    parts = []
    if n := _int(meta, "ran"):
        parts.append(f"{plural(n, 'generated test')} run ({_int(meta, 'passed')} passed)")
    if n := _int(meta, "awaiting_approval"):
        parts.append(f"{plural(n, 'test')} awaiting approval")
    return parts


ASSET_PARTS: dict[str, Callable[[Data], list[str]]] = {
    "code_nodes": _code_nodes,
    "api_impact": _api_impact,
    "test_skeletons": _test_skeletons,
    "node_state": _node_state,
    "node_markdown": _node_markdown,
    "catalog_embeddings": _catalog,
}


#: The metadata of each asset a run's summary shows (``kg hub --once`` table and ``--json``);
#: other assets (fixtures) show these generic keys when they have them.
SUMMARY_KEYS: dict[str, tuple[str, ...]] = {
    "code_nodes": (
        "files_scanned",
        "files_changed",
        "files_deleted",
        "nodes_added",
        "nodes_changed",
        "nodes_removed",
        "parse_errors",
        "skipped_files",
    ),
    "node_state": (
        "nodes_processed",
        "states_added",
        "states_changed",
        "states_removed",
        "decisions",
    ),
    "node_markdown": ("written", "removed"),
}
GENERIC_SUMMARY_KEYS = ("records", "path")


def summary_metadata(asset_key: str, metadata: Data, *extra: str) -> dict[str, Any]:
    """The part of an asset's metadata a run summary shows, as plain values."""
    wanted = (*SUMMARY_KEYS.get(asset_key, GENERIC_SUMMARY_KEYS), *extra)
    return {k: getattr(v, "value", v) for k, v in metadata.items() if k in wanted}


def asset_change(asset_key: str, metadata: Data) -> str | None:
    """``code_nodes +1 node, 1 file re-parsed``; None when the asset changed nothing."""
    leaf = asset_key.rsplit("/", 1)[-1]
    parts_of = ASSET_PARTS.get(leaf)
    if parts_of is not None:
        parts = parts_of(metadata)
        return f"{leaf} {', '.join(parts)}" if parts else None
    if asset_key.startswith("hotdata/"):
        return f"{asset_key.removeprefix('hotdata/')} refreshed"
    return asset_key


@sentence("asset_materialization", "node_update")
def materialization(data: Data) -> str:
    key = str(data.get("asset_key") or "?")
    meta = data.get("metadata") or {}
    change = asset_change(key, meta)
    spent = meta.get("duration_s")
    context = [str(data["partition"])] if data.get("partition") else []
    if isinstance(spent, int | float):
        context.append(seconds(spent))
    aside = f" ({', '.join(context)})" if context else ""
    if change is None:
        return f"{key}: nothing changed{aside}"
    return f"{change}{aside}" if change != key else f"{key} materialized{aside}"


def run_summary_sentence(
    run_id: str,
    success: bool,
    assets: Mapping[str, Data],
    duration_s: float | None = None,
    failed_steps: Iterable[str] = (),
    status: str | None = None,
    repository: str | None = None,
) -> str:
    """``run 5a0d1c2e… succeeded: code_nodes +1 node, 1 file re-parsed, 1.2 s``.

    ``assets`` maps asset keys to their materialization metadata (plain values or Dagster
    ``MetadataValue``s); assets that changed nothing are left out of the sentence.
    """
    verb = status or ("succeeded" if success else "failed")
    changes = [c for key, meta in assets.items() if (c := asset_change(key, meta))]
    fixtures = [c for c in changes if c.endswith(" refreshed")]
    changes = [c for c in changes if not c.endswith(" refreshed")]
    if len(fixtures) > 2:
        changes.append(f"{plural(len(fixtures), 'fixture')} refreshed")
    else:
        changes.extend(fixtures)
    failed = list(failed_steps)
    at = f" at {', '.join(failed)}" if failed else ""
    said = "; ".join(changes) if changes else ("nothing changed" if verb == "succeeded" else "")
    took = seconds(duration_s) if duration_s is not None else ""
    of = f" of {repository}" if repository else ""
    head = f"run {short_id(run_id)}{of} {verb}{at}"
    if said:
        return f"{head}: {said}" + (f", {took}" if took else "")
    return head + (f" after {took}" if took else "")


def unchanged_sentence(
    repository: str,
    last_run_id: str | None,
    files_checked: int,
    check_s: float,
) -> str:
    """``django: nothing changed since run 1a2b3c4d… (2,817 files checked in 41 ms); 0 assets
    materialized``: a run skipped because it had nothing to do, and how that was known."""
    since = f" since run {short_id(last_run_id)}" if last_run_id else ""
    return (
        f"{repository}: nothing changed{since} ({files_checked:,} "
        f"{'file' if files_checked == 1 else 'files'} checked in {seconds(check_s)}); "
        "0 assets materialized"
    )


@dataclass
class RunTally:
    """What a stream has seen of each run so far, to sum it up when the run ends."""

    started: dict[str, float] = field(default_factory=dict)
    assets: dict[str, dict[str, Data]] = field(default_factory=dict)
    partitions: dict[str, str] = field(default_factory=dict)

    #: runs remembered at once; a run whose end a stream never sees is forgotten, oldest first
    MAX_RUNS = 1000

    def observe(self, event_type: str, data: Data) -> dict[str, Any]:
        """Record the event; return its data with a ``summary`` (runs: the whole run)."""
        run_id = str(data.get("run_id") or "")
        out = dict(data)
        for table in (self.started, self.assets, self.partitions):
            while len(table) > self.MAX_RUNS:
                del table[next(iter(table))]
        if event_type == "run_start":
            self.started[run_id] = float(data.get("dagster_timestamp") or 0)
        elif event_type == "asset_materialization":
            key = str(data.get("asset_key") or "?")
            self.assets.setdefault(run_id, {})[key] = data.get("metadata") or {}
            if data.get("partition"):
                self.partitions[run_id] = str(data["partition"])
        elif event_type in RUN_ENDS:
            start = self.started.pop(run_id, None)
            end = data.get("dagster_timestamp")
            if start and end:
                out["duration_s"] = round(float(end) - start, 3)
            out["assets"] = {k: dict(v) for k, v in self.assets.pop(run_id, {}).items()}
            if partition := self.partitions.pop(run_id, None):
                out["partition"] = partition
        return with_summary(event_type, out)


RUN_ENDS = {"run_success": "succeeded", "run_failure": "failed", "run_canceled": "was canceled"}


def _run_end(verb: str, success: bool) -> Sentence:
    def run_end(data: Data) -> str:
        return run_summary_sentence(
            str(data.get("run_id")),
            success,
            data.get("assets") or {},
            data.get("duration_s"),
            status=verb,
            repository=data.get("partition"),
        )

    return run_end


for _type, _verb in RUN_ENDS.items():
    SENTENCES[_type] = _run_end(_verb, _type != "run_failure")


@sentence("run_start")
def run_start(data: Data) -> str:
    job = data.get("job_name")
    return f"run {short_id(data.get('run_id'))} started" + (f" ({job})" if job else "")


@sentence("watching")
def watching(data: Data) -> str:
    keys = list(data.get("asset_keys") or [])
    return f"watching {plural(len(keys), 'asset')}: {', '.join(keys)}"


@sentence("feed_error")
def feed_error(data: Data) -> str:
    return f"cannot read Dagster's event log (attempt {data.get('attempt', '?')}): {data['error']}"


# -- the code model, node by node ------------------------------------------------------

SIGNAL_WORDS = {
    "new_node": "new",
    "source_changed": "source changed",
    "moved": "moved",
    "renamed": "renamed",
    "signature_changed": "signature changed",
    "decorators_changed": "decorators changed",
    "complexity_delta": "complexity changed",
    "callers_changed": "callers changed",
    "callees_changed": "callees changed",
    "tests_changed": "tests changed",
    "embedding_drift": "meaning drifted",
    "removed": "removed",
}


@sentence("node_changed")
def node_changed(data: Data) -> str:
    """``utils.text.capfirst: signature changed`` (signals as the diff bundle names them)."""
    name = data.get("qualname") or data.get("name") or data.get("node_id") or "?"
    signals = [s for s in data.get("signals") or [] if s != "source_changed"] or list(
        data.get("signals") or []
    )
    words = [SIGNAL_WORDS.get(s, s.replace("_", " ")) for s in signals]
    return f"{name}: {', '.join(words) if words else 'updated'}"


@sentence("nodes_truncated")
def nodes_truncated(data: Data) -> str:
    run = short_id(data.get("run_id"))
    return f"run {run} decided about more nodes; the first {data['shown']} are shown"


# -- the flux runtime --------------------------------------------------------------------


@sentence("state_changed")
def state_changed(data: Data) -> str:
    return f"agent went from {data['from']} to {data['to']}"


@sentence("collapsed")
def collapsed(data: Data) -> str:
    n = int(data.get("failed_perturbations") or 0)
    lost = f"; {plural(n, 'request')} failed with it" if n else ""
    return f"agent collapsed: {data['reason']}{lost}"


@sentence("perturbation_result")
def perturbation_result(data: Data) -> str:
    result = data.get("result")
    if isinstance(result, Mapping) and "action" in result and "approved" in result:
        verdict = "approved" if result["approved"] else "not approved"
        return f"{result['action']}: {verdict} ({result.get('by', '?')})"
    answer = f" answered: {_short(result, 60)}" if result is not None else " answered"
    via = f" after {data['token_id']}" if data.get("token_id") else ""
    return f"request{via}{answer}"


@sentence("perturbation_failed")
def perturbation_failed(data: Data) -> str:
    return f"request failed: {data['error']}"


def _token(data: Data) -> Data:
    token = data.get("token")
    return token if isinstance(token, Mapping) else data


def _what(token: Data) -> str:
    context = token.get("context")
    if isinstance(context, Mapping) and context.get("action"):
        return str(context["action"])
    return str(token.get("prompt") or token.get("reason") or "?")


@sentence("semaphore_ejected")
def semaphore_ejected(data: Data) -> str:
    token = _token(data)
    return f"semaphore {token['id']} waits for approval: {_what(token)}"


@sentence("semaphore_resolved")
def semaphore_resolved(data: Data) -> str:
    token = _token(data)
    answer = token.get("resolution")
    said = f"{answer}" if isinstance(answer, str) else _short(answer, 30)
    return f"semaphore {token['id']} answered {said}: {_what(token)}"


@sentence("semaphore_cancelled")
def semaphore_cancelled(data: Data) -> str:
    token = _token(data)
    return f"semaphore {token['id']} cancelled: {_what(token)}"


@sentence("semaphore_voided")
def semaphore_voided(data: Data) -> str:
    token = _token(data)
    return f"semaphore {token['id']} expired unanswered: {_what(token)}"


# -- the watch daemon's events (sensors.events kinds) ----------------------------------


@sentence("file_created")
def file_created(data: Data) -> str:
    return f"{data['path']} created"


@sentence("file_modified")
def file_modified(data: Data) -> str:
    return f"{data['path']} modified"


@sentence("file_deleted")
def file_deleted(data: Data) -> str:
    gone = " (it came and went)" if data.get("transient") else ""
    return f"{data['path']} deleted{gone}"


@sentence("file_renamed")
def file_renamed(data: Data) -> str:
    return f"{data['old_path']} renamed to {data['path']}"


@sentence("rescan")
def rescan(data: Data) -> str:
    absorbed = sum(int(v) for v in (data.get("absorbed") or {}).values())
    extra = f" ({plural(absorbed, 'event')} absorbed)" if absorbed else ""
    return f"rescanning the repository: {data['reason']}{extra}"


def _branch(data: Data) -> str:
    return str(data.get("branch") or "a detached HEAD")


def _files(data: Data) -> str:
    return plural(len(data.get("changed_paths") or ()), "file")


@sentence("git_commit")
def git_commit(data: Data) -> str:
    message = str(data.get("message") or "").splitlines()
    first = f": {message[0]}" if message else ""
    return f"commit {str(data['sha'])[:10]} on {_branch(data)} ({_files(data)}){first}"


@sentence("git_push")
def git_push(data: Data) -> str:
    return f"pushed {str(data['sha'])[:10]} to {data['remote_ref']}"


@sentence("git_pull")
def git_pull(data: Data) -> str:
    return (
        f"pulled {str(data['old_sha'])[:10]}..{str(data['sha'])[:10]} into {_branch(data)}: "
        f"{_files(data)} changed"
    )


@sentence("git_branch_switch")
def git_branch_switch(data: Data) -> str:
    came_from = data.get("old_branch") or str(data.get("old_sha") or "?")[:10]
    to = data.get("branch") or f"a detached HEAD at {str(data['sha'])[:10]}"
    return f"switched from {came_from} to {to}: {_files(data)} differ"


@sentence("git_history_rewritten")
def git_history_rewritten(data: Data) -> str:
    return (
        f"{data.get('operation') or 'history rewrite'} moved {_branch(data)} from "
        f"{str(data['old_sha'])[:10]} to {str(data['sha'])[:10]}: {_files(data)} differ"
    )


@sentence("test_started")
def test_started(data: Data) -> str:
    return f"{data['nodeid']} started"


@sentence("test_passed")
def test_passed(data: Data) -> str:
    took = f" in {seconds(data['duration_s'])}" if data.get("duration_s") else ""
    return f"{data['nodeid']} passed{took}"


@sentence("test_failed")
def test_failed(data: Data) -> str:
    phase = data.get("phase") or "call"
    where = "" if phase == "call" else f" in {phase}"
    message = str(data.get("message") or "").strip().splitlines()
    why = f": {message[0]}" if message else ""
    return f"{data['nodeid']} FAILED{where}{why}"


@sentence("test_session_complete")
def test_session_complete(data: Data) -> str:
    counts = [plural(int(data.get("passed") or 0), "test") + " passed"]
    if failed := int(data.get("failed") or 0):
        counts.append(f"{failed} failed")
    if skipped := int(data.get("skipped") or 0):
        counts.append(f"{skipped} skipped")
    took = f" in {seconds(data['duration_s'])}" if data.get("duration_s") else ""
    return f"test session finished{took}: {', '.join(counts)}"


@sentence("ci_workflow", "ci_job")
def ci(data: Data) -> str:
    name = str(data["workflow"]) + (f"/{data['job']}" if data.get("job") else "")
    outcome = data.get("conclusion") or str(data.get("status", "?")).replace("_", " ")
    steps = data.get("failed_steps") or ()
    failed = f" at {', '.join(steps)}" if steps else ""
    on = f" on {data['branch']}" if data.get("branch") else ""
    return f"CI {name} #{data['run_id']}{on}: {outcome}{failed}"


@sentence("trust_escalation")
def trust_escalation(data: Data) -> str:
    return f"trust level {data['old_level']} -> {data['new_level']}: {data['reason']}"


@sentence("action_executed")
def action_executed(data: Data) -> str:
    return f"{data['action']}: {data['status']} (trust {data['trust_level']})"


@sentence("health")
def health(data: Data) -> str:
    state = "healthy" if data.get("healthy", True) else "UNHEALTHY"
    detail = f": {data['detail']}" if data.get("detail") else ""
    return f"{data['component']} is {state}{detail}"


# -- the demo world (HotData fixtures) --------------------------------------------------


def _sets(data: Data) -> str:
    sets = list(data.get("sets") or [])
    if not sets:
        return ""
    return f" (set{'s' if len(sets) > 1 else ''} {', '.join(sets)})"


#: What one record of a fixture kind is called, for counts in sentences.
RECORD_NOUNS = {
    "flux_states": ("agent", "agents"),
    "yield_turns": ("turn", "turns"),
    "thought_streams": ("thought", "thoughts"),
}


def _records(data: Data) -> str:
    records = data.get("records")
    noun = RECORD_NOUNS.get(str(data.get("fixture", "")).split("/", 1)[0])
    if records is None or noun is None:
        return ""
    return plural(int(records), *noun)


@sentence("fixture_loaded", "fixture_unchanged")
def fixture_loaded(data: Data) -> str:
    count = f": {records}" if (records := _records(data)) else ""
    return f"{data['fixture']} reloaded{count}{_sets(data)}"


@sentence("fixture_recovered")
def fixture_recovered(data: Data) -> str:
    count = f", {records}" if (records := _records(data)) else ""
    return f"{data['fixture']} is valid again{count}{_sets(data)}"


@sentence("fixture_invalid")
def fixture_invalid(data: Data) -> str:
    issues = list(data.get("issues") or [])
    first = issues[0] if issues else {"location": "<file>", "message": "invalid"}
    more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
    keeping = "showing the generator's default" if data.get("fallback") else "keeping the last good"
    return (
        f"{data['fixture']} is invalid at {first['location']}: {first['message']}{more}; "
        f"{keeping} scene"
    )


@sentence("fixture_missing")
def fixture_missing(data: Data) -> str:
    how = f" ({data['fallback']})" if data.get("fallback") else ""
    return f"{data['fixture']} was deleted: showing the generator's default scene{how}"


def fallback_notice(data: Data) -> str:
    how = f" ({data['fallback']})" if data.get("fallback") else ""
    return f"{data['fixture']} never loaded: showing the generator's default scene{how}"


@sentence("world_loaded")
def world_loaded(data: Data) -> str:
    problems = int(data.get("problems") or 0)
    trouble = f", {plural(problems, 'fixture')} with problems" if problems else ""
    watching = "; watching for edits" if data.get("dev") else ""
    return (
        f"demo world loaded: {plural(len(data.get('sets') or []), 'fixture set')} from "
        f"{plural(int(data.get('fixtures') or 0), 'fixture')}{trouble}{watching}"
    )
