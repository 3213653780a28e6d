"""Events read as sentences: checked per event type against real events — a real Dagster
run of the code assets on a tiny repository (read back through the pipeline agent's own
feed), real git events from a real repository, and the daemon's event kinds posted into
the real gateway's `daemon` stream."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, instance_for_test

from kgents_assets.sentences import RunTally, describe, run_summary_sentence, with_summary

TEXT_V1 = 'def capfirst(text):\n    return text[:1].upper() + text[1:]\n\n\ndef shout(text):\n    return capfirst(text) + "!"\n'
TEXT_V2 = 'def capfirst(text, lower_rest=False):\n    rest = text[1:].lower() if lower_rest else text[1:]\n    return text[:1].upper() + rest\n\n\ndef shout(text):\n    return capfirst(text) + "!"\n\n\ndef whisper(text):\n    return text.lower()\n'
REPO = "texty"


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Any:
    monkeypatch.setenv("KGENTS_DATABASE_URL", database_url)
    with instance_for_test() as inst:
        yield inst


async def _until(condition: Any, timeout_s: float = 30.0) -> None:
    """Wait for ``condition`` (checked every 20 ms), not for a fixed time."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _feed_sentences(instance: DagsterInstance) -> list[tuple[str, dict[str, Any]]]:
    """Every run and materialization event, as the `pipeline` agent emits them."""
    from gateway.agents.dagster_feed import MATERIALIZATION, RUN_EVENTS, DagsterEventFeed

    feed = DagsterEventFeed(instance, (*RUN_EVENTS, MATERIALIZATION), start_at_latest=False)
    tally = RunTally()
    return [
        (e.type, tally.observe(e.type, {"storage_id": e.storage_id, **e.data})) for e in feed.poll()
    ]


@pytest.mark.slow
def test_a_real_dagster_run_reads_as_sentences(
    instance: DagsterInstance, store: Any, tmp_path: Path
) -> None:
    from kgents_assets.repos.registry import add_repository
    from kgents_assets.runner import materialize_code

    root = tmp_path / REPO
    (root / "utils").mkdir(parents=True)
    (root / "utils" / "__init__.py").write_text("")
    (root / "utils" / "text.py").write_text(TEXT_V1)
    add_repository(store, REPO, str(root))

    async def runs_under_the_hub_agent() -> tuple[Any, Any, list[str]]:
        """The gateway's `hub` agent watches while the two runs happen; it tells the
        nodes of each node_state update one by one."""
        from gateway.agents.hub import make_hub_agent
        from kgents_assets.code_asset_keys import CODE_ASSET_KEYS
        from kgents_assets.flux import HolographicBuffer

        hub = make_hub_agent(
            instance, HolographicBuffer("hub"), set(CODE_ASSET_KEYS), 0.1, store=store
        )
        await hub.start()
        await _until(lambda: any(e.type == "watching" for e in hub.mirror.recent()))
        first = await asyncio.to_thread(materialize_code, REPO, None, instance=instance)
        (root / "utils" / "text.py").write_text(TEXT_V2)
        second = await asyncio.to_thread(
            materialize_code, REPO, ["utils/text.py"], instance=instance
        )

        def told() -> list[str]:
            return [
                e.data["summary"]
                for e in hub.mirror.recent(500)
                if e.type == "node_changed" and e.data["run_id"] == second.run_id
            ]

        await _until(lambda: any("whisper" in s for s in told()))
        await hub.stop(drain=False)
        return first, second, told()

    first, second, node_sentences = asyncio.run(runs_under_the_hub_agent())
    assert first.success and second.success
    # Node by node, from the run's decision traces: "utils.text.capfirst: signature changed".
    assert "utils.text.capfirst: signature changed, complexity changed" in node_sentences
    assert "utils.text.whisper: new" in node_sentences

    events = _feed_sentences(instance)
    said = [(kind, data["summary"]) for kind, data in events]
    runs = [r for r in (first.run_id, second.run_id)]
    short = [f"run {r[:8]}…" for r in runs]
    starts = [s for k, s in said if k == "run_start"]
    assert starts == [
        f"{short[0]} started (code_refresh_job)",
        f"{short[1]} started (code_refresh_job)",
    ]

    ends = [s for k, s in said if k == "run_success"]
    assert len(ends) == 2
    # The first run found 1 module + 2 functions (utils/__init__.py is a module too).
    # (the catalog also holds entries for the fixtures, hence more entries than nodes)
    assert re.fullmatch(
        rf"{re.escape(short[0])} of texty succeeded: code_nodes \+4 nodes, 2 files re-parsed; "
        r"node_state \+4 states; node_markdown 4 files written; "
        r"catalog_embeddings \d+ entries added, \d+\.\d (s|min)",  # minutes on a busy machine
        ends[0],
    ), ends[0]
    # The edit: one function added, one changed, one file re-parsed.
    assert re.fullmatch(
        rf"{re.escape(short[1])} of texty succeeded: code_nodes \+1 node, 2 nodes changed, "
        r"1 file re-parsed; node_state \+1 state, \d states? changed; "
        r"node_markdown \d files? written; "
        # the markdown first; then the steps ready with it, by step key (same priority)
        r"api_impact 1 public API change; "  # the added public function
        r"catalog_embeddings [^;]+; "
        # whisper is new, capfirst changed, neither has a test: a skeleton each (trust 1)
        r"test_skeletons 2 generated tests run \(2 passed\), \d+\.\d (s|min)",
        ends[1],
    ), ends[1]

    code = [s for k, s in said if k == "asset_materialization" and s.startswith("code_nodes")]
    assert re.fullmatch(
        r"code_nodes \+1 node, 2 nodes changed, 1 file re-parsed \(texty, \d+ ms\)", code[-1]
    ), code[-1]
    # The same words as `kg hub --once --json` would print from its own result.
    assert (
        run_summary_sentence(
            second.run_id,
            True,
            {
                e.step_materialization_data.materialization.asset_key.to_user_string(): dict(
                    e.step_materialization_data.materialization.metadata
                )
                for e in second.get_asset_materialization_events()
            },
            repository=REPO,
        )
        == ends[1].rsplit(", ", 1)[0]
    )


def test_run_failure_and_cancel_sentences() -> None:
    tally = RunTally()
    tally.observe("run_start", {"run_id": "5a0d1c2e-aaaa", "dagster_timestamp": 100.0})
    tally.observe(
        "asset_materialization",
        {
            "run_id": "5a0d1c2e-aaaa",
            "asset_key": "code_nodes",
            "partition": "web",
            "metadata": {"nodes_added": 1, "files_changed": 1},
        },
    )
    failed = tally.observe("run_failure", {"run_id": "5a0d1c2e-aaaa", "dagster_timestamp": 101.2})
    assert (
        failed["summary"]
        == "run 5a0d1c2e… of web failed: code_nodes +1 node, 1 file re-parsed, 1.2 s"
    )
    assert describe("run_canceled", {"run_id": "77"}) == "run 77 was canceled"
    # what `kg hub --once --json` would say of a run whose node_state step failed
    assert (
        run_summary_sentence("5a0d1c2e-1111", False, {"code_nodes": {}}, 3.4, {"node_state": "x"})
        == "run 5a0d1c2e… failed at node_state after 3.4 s"
    )
    assert describe("feed_error", {"error": "OperationalError: gone", "attempt": 2}) == (
        "cannot read Dagster's event log (attempt 2): OperationalError: gone"
    )
    assert describe("watching", {"asset_keys": ["code_nodes", "node_state"]}) == (
        "watching 2 assets: code_nodes, node_state"
    )
    # an unknown type and malformed data still read as something
    assert describe("tick", {"n": 3}) == "tick: n=3"
    assert describe("file_renamed", {"path": "b.py"}) == "file renamed: path=b.py"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout


def test_real_git_events_read_as_sentences(tmp_path: Path) -> None:
    from sensors.git_source import GitRepo, GitWatcher

    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "T")
    (root / "a.py").write_text("x = 1\n")
    _git(root, "add", "a.py")
    _git(root, "commit", "-q", "-m", "first")
    watcher = GitWatcher(GitRepo.open(root))
    (root / "b.py").write_text("y = 2\n")
    _git(root, "add", "b.py")
    _git(root, "commit", "-q", "-m", "Add b\n\nlong body")
    sha = _git(root, "rev-parse", "HEAD").strip()
    events = watcher.check()
    assert [e.kind for e in events] == ["git_commit"]
    data = events[0].model_dump(mode="json")
    assert describe("git_commit", data) == f"commit {sha[:10]} on main (1 file): Add b"
    _git(root, "switch", "-q", "-c", "feature", "HEAD~1")
    events = watcher.check()
    assert [e.kind for e in events] == ["git_branch_switch"]
    assert describe("git_branch_switch", events[0].model_dump(mode="json")) == (
        "switched from main to feature: 1 file differ"
    )


DAEMON_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({"kind": "file_created", "path": "utils/text.py"}, "utils/text.py created"),
    ({"kind": "file_modified", "path": "utils/text.py"}, "utils/text.py modified"),
    (
        {"kind": "file_deleted", "path": "old.py", "transient": True},
        "old.py deleted (it came and went)",
    ),
    ({"kind": "file_renamed", "path": "new.py", "old_path": "old.py"}, "old.py renamed to new.py"),
    (
        {"kind": "rescan", "reason": "bus overflow", "absorbed": {"file_modified": 4000}},
        "rescanning the repository: bus overflow (4000 events absorbed)",
    ),
    (
        {"kind": "git_push", "sha": "1234567abc", "remote_ref": "origin/main"},
        "pushed 1234567abc to origin/main",
    ),
    (
        {
            "kind": "git_pull",
            "sha": "bbbbbbbbbb",
            "old_sha": "aaaaaaaaaa",
            "branch": "main",
            "changed_paths": ["a", "b"],
        },
        "pulled aaaaaaaaaa..bbbbbbbbbb into main: 2 files changed",
    ),
    (
        {
            "kind": "git_history_rewritten",
            "sha": "bbbbbbbbbb",
            "old_sha": "aaaaaaaaaa",
            "branch": "main",
            "operation": "rebase",
            "changed_paths": ["a"],
        },
        "rebase moved main from aaaaaaaaaa to bbbbbbbbbb: 1 file differ",
    ),
    (
        {"kind": "test_started", "nodeid": "tests/t.py::test_x", "session_id": "s1"},
        "tests/t.py::test_x started",
    ),
    (
        {
            "kind": "test_passed",
            "nodeid": "tests/t.py::test_x",
            "session_id": "s1",
            "duration_s": 0.25,
        },
        "tests/t.py::test_x passed in 250 ms",
    ),
    (
        {
            "kind": "test_failed",
            "nodeid": "tests/test_text.py::test_capfirst",
            "session_id": "s1",
            "message": "AssertionError: assert 'Ab' == 'AB'\nmore",
        },
        "tests/test_text.py::test_capfirst FAILED: AssertionError: assert 'Ab' == 'AB'",
    ),
    (
        {
            "kind": "test_session_complete",
            "session_id": "s1",
            "exit_status": 1,
            "passed": 41,
            "failed": 1,
            "duration_s": 3.2,
        },
        "test session finished in 3.2 s: 41 tests passed, 1 failed",
    ),
    (
        {
            "kind": "ci_job",
            "run_id": "99",
            "workflow": "ci",
            "job": "tests",
            "job_id": "7",
            "status": "completed",
            "conclusion": "failure",
            "branch": "main",
            "failed_steps": ["pytest"],
        },
        "CI ci/tests #99 on main: failure at pytest",
    ),
    (
        {"kind": "ci_workflow", "run_id": "99", "workflow": "ci", "status": "in_progress"},
        "CI ci #99: in progress",
    ),
    (
        {"kind": "trust_escalation", "old_level": 1, "new_level": 2, "reason": "asked to propose"},
        "trust level 1 -> 2: asked to propose",
    ),
    (
        {
            "kind": "action_executed",
            "action": "materialize_code",
            "trust_level": 1,
            "status": "done",
        },
        "materialize_code: done (trust 1)",
    ),
    (
        {"kind": "health", "component": "watcher", "healthy": False, "detail": "inotify limit"},
        "watcher is UNHEALTHY: inotify limit",
    ),
]


@pytest.mark.slow
def test_the_daemons_events_read_as_sentences_on_its_stream(store: Any, tmp_path: Path) -> None:
    """Each kind validated by the sensors' own models, posted to the gateway's `daemon`
    agent as the daemon does, and read back from /observe with its sentence. A proposal
    that needs a human shows as the semaphore sentence."""
    import sys

    from pydantic import SecretStr
    from websockets.asyncio.client import connect

    from gateway.settings import GatewaySettings
    from sensors.events import parse_event

    sys.path.insert(0, str(Path(__file__).parent / "gateway"))
    from gateway_testing import TOKEN, serve_gateway

    settings = GatewaySettings(
        token=SecretStr(TOKEN), repo_root=tmp_path, dagster_agents=False, poll_interval_s=0.2
    )
    wire = [parse_event(data).model_dump(mode="json") for data, _ in DAEMON_EVENTS]
    with serve_gateway(settings, store) as gateway:
        registry = gateway.app.state.registry
        for data in wire:
            gateway.call(lambda d=data: registry.post("daemon", d["kind"], d))
        daemon = gateway.agent("daemon")
        perturbation = gateway.run(daemon.perturb({"action": "write tests/test_text.py"}))

        async def read(want: int) -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            async with connect(f"{gateway.ws}/observe/daemon") as ws:
                while len(got) < want:
                    for line in str(await ws.recv()).split("\n"):
                        event = json.loads(line)
                        if event["type"] != "hello":
                            got.append(event)
            return got

        token = gateway.run(asyncio.wait_for(perturbation.ejected, 10)).id
        events = gateway.run(read(len(wire) + 2))  # + state_changed, + semaphore_ejected
    by_type = {e["type"]: e["data"]["summary"] for e in events}
    for data, expected in DAEMON_EVENTS:
        assert by_type[data["kind"]] == expected
    assert by_type["state_changed"] == "agent went from DORMANT to FLOWING"
    assert by_type["semaphore_ejected"] == (
        f"semaphore {token} waits for approval: write tests/test_text.py"
    )


def test_with_summary_keeps_an_emitters_own_sentence() -> None:
    assert with_summary("tick", {"summary": "mine"}) == {"summary": "mine"}
    assert with_summary("state_changed", {"from": "FLOWING", "to": "DRAINING"})["summary"] == (
        "agent went from FLOWING to DRAINING"
    )


def test_a_tally_forgets_runs_it_never_sees_end() -> None:
    tally = RunTally()
    for i in range(RunTally.MAX_RUNS + 50):
        tally.observe("run_start", {"run_id": f"r{i}", "dagster_timestamp": float(i)})
    assert len(tally.started) <= RunTally.MAX_RUNS + 1
    assert "r0" not in tally.started and f"r{RunTally.MAX_RUNS + 49}" in tally.started


def test_a_skipped_run_says_what_was_checked_and_since_when() -> None:
    from kgents_assets.sentences import unchanged_sentence

    said = unchanged_sentence("django", "1a2b3c4d-5e6f-7788-99aa-bbccddeeff00", 2817, 0.041)
    assert said == (
        "django: nothing changed since run 1a2b3c4d… (2,817 files checked in 41 ms); "
        "0 assets materialized"
    )
    assert unchanged_sentence("one", None, 1, 1.5) == (
        "one: nothing changed (1 file checked in 1.5 s); 0 assets materialized"
    )


def test_the_summary_shows_each_assets_own_keys_as_plain_values() -> None:
    from dagster import MetadataValue

    from kgents_assets.sentences import summary_metadata

    meta = {
        "nodes_added": MetadataValue.int(2),
        "files_changed": 1,
        "problems": MetadataValue.md("| file | problem |"),
        "outcome": "nothing changed, downstream skipped",
    }
    assert summary_metadata("code_nodes", meta) == {"nodes_added": 2, "files_changed": 1}
    assert summary_metadata("code_nodes", meta, "outcome")["outcome"].startswith("nothing")
    fixture = {"records": 48, "path": "/f/flux.json", "size": 10}
    assert summary_metadata("hotdata/flux_states/demo", fixture) == {
        "records": 48,
        "path": "/f/flux.json",
    }
