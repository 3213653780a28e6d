"""The hub's three demos, the context provider and the MCP server on a real third-party
package no test here wrote: toolz 0.12.1 from PyPI, copied into a temp git repository.

    uv run python bench/hub_demos_proof.py [PATH_TO_toolz-0.12.1 sdist/wheel]

Without an argument it downloads the distribution with pip into ~/.cache/kgents-proof
(the sdist when it can be prepared here, else the pure-Python wheel, which carries the
same sources and the package's own tests). Prints what each demo produced and the time
from signal to artifact. Not a test: a figure-printing script, like the other benches.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE = Path.home() / ".cache" / "kgents-proof"
PACKAGE, VERSION = "toolz", "0.12.1"
REPO = "toolz"


def fetch() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"{PACKAGE}-{VERSION}*"))
    if found:
        return found[0]
    for flags in (["--no-binary", ":all:"], ["--only-binary", ":all:"]):
        subprocess.run(
            ["python3", "-m", "pip", "download", "--no-deps", *flags,
             f"{PACKAGE}=={VERSION}", "-d", str(CACHE)],
            check=False, capture_output=True,
        )  # fmt: skip
        found = sorted(CACHE.glob(f"{PACKAGE}-{VERSION}*"))
        if found:
            return found[0]
    raise SystemExit(f"could not download {PACKAGE}=={VERSION} with pip")


def unpack(dist: Path, into: Path) -> Path:
    root = into / REPO
    root.mkdir(parents=True)
    if dist.suffix == ".whl":
        with zipfile.ZipFile(dist) as z:
            z.extractall(root)
        for extra in root.glob("*.dist-info"):
            shutil.rmtree(extra)
    else:
        with tarfile.open(dist) as t:
            t.extractall(into, filter="data")
        shutil.move(str(next(into.glob(f"{PACKAGE}-{VERSION}"))), root)
    git = ["git", "-C", str(root), "-c", "user.email=proof@kgents", "-c", "user.name=proof"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", f"{PACKAGE} {VERSION} as published"], check=True)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KGENTS_EVENTS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:kmock",
         "--rootdir", str(root), *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


@contextmanager
def gateway(store: object, root: Path, token: str) -> Iterator[str]:
    import uvicorn
    from pydantic import SecretStr

    from gateway.app import create_app
    from gateway.server import uvicorn_config
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(token=SecretStr(token), repo_root=root, dagster_agents=False)
    app = create_app(settings, store=store)  # type: ignore[arg-type]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, settings, host="127.0.0.1", port=port,
                                          log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


async def mcp_calls(env: dict[str, str]) -> dict[str, dict[str, object]]:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    kg = str(Path(sys.executable).parent / "kg")
    calls = {
        "node_context": {"target": "toolz.recipes.countby", "repo": REPO},
        "discover": {"query": "count how often each value occurs", "mode": "keyword"},
        "failure_context": {"repo": REPO},
        "impact_summary": {"node": "toolz.itertoolz.groupby", "repo": REPO},
    }
    out: dict[str, dict[str, object]] = {}
    params = StdioServerParameters(command=kg, args=["mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for name, arguments in calls.items():
            result = await session.call_tool(name, arguments)
            out[name] = result.structured_content or json.loads(result.content[0].text)  # type: ignore[union-attr]
    return out


def main() -> None:
    import pgserver

    from kgents_assets.catalog.embedders import HashingEmbedder
    from kgents_assets.catalog.sync import sync_catalog
    from kgents_assets.hub.context import node_context
    from kgents_assets.hub.failure_bundle import bundle_for, journaled_failures
    from kgents_assets.hub.impact import detect_and_summarize
    from kgents_assets.hub.refresh import refresh_repository
    from kgents_assets.hub.test_creation import candidates, create_test, settle
    from kgents_assets.store import Store

    dist = Path(sys.argv[1]) if len(sys.argv) > 1 else fetch()
    work = Path(tempfile.mkdtemp(prefix="kgents-proof-"))
    server = pgserver.get_server(work / "pg", cleanup_mode="delete")
    try:
        store = Store(url=str(server.get_uri()))
        store.migrate()
        os.environ.update({"KGENTS_DATABASE_URL": store.url, "KGENTS_HOME": str(work / "home"),
                           "KGENTS_EMBEDDER": "hashing:256"})  # fmt: skip
        root = unpack(dist, work)
        print(f"# {dist.name} -> {root} (git repository, one commit)")

        t = time.perf_counter()
        report = refresh_repository(store, root, repo=REPO)
        print(f"cold model: {report.files.files_scanned} files, "
              f"{report.states.states_added} node states in {ms(time.perf_counter() - t)}")  # fmt: skip
        sync_catalog(store, HashingEmbedder(256), repo=REPO)
        with store.transaction() as conn:
            detect_and_summarize(conn, REPO, root)  # the API baseline

        # -- demo 1: a broken function, a failing test, its bundle --------------------------
        tests = "toolz/tests/test_recipes.py"
        green = pytest(root, f"{tests}::test_countby", "toolz/tests/test_itertoolz.py")
        assert green.returncode == 0, green.stdout
        itertoolz = root / "toolz/itertoolz.py"
        edit(itertoolz, "    return dict(d)\n\n\ndef reduceby",
             "    return dict(sorted(d, key=d.get))\n\n\ndef reduceby")  # fmt: skip
        t = time.perf_counter()
        refresh_repository(store, root, repo=REPO, changed_paths=["toolz/itertoolz.py"])
        refresh_s = time.perf_counter() - t
        red = pytest(root, f"{tests}::test_countby")
        assert red.returncode == 1, red.stdout
        t = time.perf_counter()
        with store.connect() as conn:
            (failure,) = journaled_failures(conn, test=f"{tests}::test_countby")
            bundle = bundle_for(conn, failure, REPO, root, store)
        bundle_s = time.perf_counter() - t
        print("\n## demo 1: pytest failure context")
        print(f"test: {bundle.test_nodeid} ({bundle.test_full_name}); message: {bundle.message}")
        for f in bundle.frames:
            callees = ", ".join(c.full_name for c in f.callees) or "-"
            changed = "; ".join(",".join(c.signals) for c in f.changes_since_green) or "-"
            print(f"  frame {f.file_path}:{f.line} -> {f.full_name or '(outside)'}; "
                  f"callees: {callees}; changed since green: {changed}")  # fmt: skip
        print(f"failing node: {bundle.failing_node}; artifact: {bundle.artifact}")
        print(f"signal -> artifact: failure journaled -> bundle written {ms(bundle_s)} "
              f"(+ the incremental refresh after the edit, {ms(refresh_s)})")  # fmt: skip
        subprocess.run(["git", "-C", str(root), "checkout", "-q", "--", "."], check=True)
        refresh_repository(store, root, repo=REPO, changed_paths=["toolz/itertoolz.py"])

        # -- demo 2: a public signature changes ---------------------------------------------
        edit(itertoolz, "def groupby(key, seq):", "def groupby(key, seq, *, into=dict):")
        t = time.perf_counter()
        refresh_repository(store, root, repo=REPO, changed_paths=["toolz/itertoolz.py"])
        with store.transaction() as conn:
            _, summaries = detect_and_summarize(conn, REPO, root)
        impact_s = time.perf_counter() - t
        print("\n## demo 2: API change impact summary")
        for s in summaries:
            print(f"{s.description}: {len(s.callsites)} callsites, {len(s.tests)} tests, "
                  f"exported by {', '.join(s.exported_by)}; artifact {s.artifact}")  # fmt: skip
            for site in s.callsites[:8]:
                print(f"  {site.file_path}:{site.line} {site.caller} ({site.confidence:.2f}): "
                      f"{site.code}")  # fmt: skip
        print(f"signal -> artifact: file saved -> impact summary written {ms(impact_s)}")

        # -- demo 3: a new public function without tests ------------------------------------
        utils = root / "toolz/utils.py"
        utils.write_text(utils.read_text() + "\n\ndef halves(seq, *, strict=False):\n"
                         '    """Every item of seq divided by two."""\n'
                         "    return [x / 2 for x in seq]\n")  # fmt: skip
        t = time.perf_counter()
        refresh_repository(store, root, repo=REPO, changed_paths=["toolz/utils.py"])
        with store.connect() as conn:
            new = next(c for c in candidates(conn, REPO) if c.full_name == "toolz.utils.halves")
        run = create_test(store, REPO, root, new, 3)
        create_s = time.perf_counter() - t
        print("\n## demo 3: test creation")
        print(f"trust 3: {run.pytest_id}: {run.outcome} (exit {run.exit_code}); "
              f"file exists: {(root / str(run.test_path)).is_file()}; log stored: "
              f"{run.log.strip().splitlines()[-1]!r}")  # fmt: skip
        print(f"signal -> artifact: function saved -> test written and run {ms(create_s)}")
        edit(utils, "def halves(", "def thirds(seq):\n    return [x / 3 for x in seq]\n\n\n"
             "def halves(")  # fmt: skip
        refresh_repository(store, root, repo=REPO, changed_paths=["toolz/utils.py"])
        with store.connect() as conn:
            third = next(c for c in candidates(conn, REPO) if c.full_name == "toolz.utils.thirds")
        proposal = create_test(store, REPO, root, third, 2)
        target = root / str(proposal.test_path)
        print(f"trust 2: {proposal.outcome}, token {proposal.token_id}; in tests/ before "
              f"approval: {target.exists()}")  # fmt: skip
        import httpx

        with gateway(store, root, "proof-token") as url:
            pending = httpx.get(f"{url}/api/purgatory/daemon/pending").json()
            assert [p["id"] for p in pending] == [proposal.token_id]
            t = time.perf_counter()
            httpx.post(f"{url}/api/purgatory/daemon/resolve/{proposal.token_id}",
                       json={"input": "approve"},
                       headers={"Authorization": "Bearer proof-token"}).raise_for_status()  # fmt: skip
            (approved,) = settle(store, REPO, root)
            approve_s = time.perf_counter() - t
        print(f"approved over the gateway -> {approved.pytest_id}: {approved.outcome}; "
              f"in tests/ now: {target.exists()}; approval -> test run {ms(approve_s)}")  # fmt: skip

        # -- context provider and MCP -------------------------------------------------------
        t = time.perf_counter()
        blob = node_context(store, "toolz.recipes.countby", repo=REPO)
        print("\n## context provider and MCP")
        print(f"node_context countby: {blob.freshness_status} in {ms(time.perf_counter() - t)}; "
              f"callees {[c.full_name for c in blob.callees]}")  # fmt: skip
        t = time.perf_counter()
        answers = asyncio.run(mcp_calls(dict(os.environ)))
        mcp_s = time.perf_counter() - t
        summary = answers["impact_summary"]["summary"]
        print(
            f"MCP over stdio (kg mcp), 4 tools in {ms(mcp_s)} including start-up: "
            f"node_context {answers['node_context']['freshness_status']}; discover "
            f"top hit {answers['discover']['hits'][0]['name']}; failure_context failing "
            f"node {answers['failure_context']['bundle']['failing_node']}; impact_summary "
            f"{len(summary['callsites'])} callsites"
        )  # type: ignore[index]
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
