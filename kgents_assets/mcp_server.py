"""``kg mcp``: the hub for coding agents, as an MCP server over stdio.

Tools:

- ``node_context``: a node's hub context (signature, callers, callees, tests) with its
  freshness (fresh|stale|missing) and, unless fresh, a warning saying what to read instead;
- ``discover``: search the L-gent catalog (keyword, semantic or hybrid);
- ``failure_context``: the failure context bundle of the latest (or a given) failing test;
- ``impact_summary``: every callsite, test and exporter affected by changing a symbol.

An agent keeps working when the hub does not: a store that is down, a repository that is
not modelled or a name that matches nothing is an answer with ``freshness_status``
``missing`` and the reason, never a protocol error. The store is opened on first use and
again after a failure, so a hub that comes back is used without restarting the server.
Nothing but the protocol may go to stdout: logs go to stderr.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer

from kgents_assets.hub.context import DEFAULT_TOP_N, node_context, repository_root
from kgents_assets.hub.failure_bundle import bundle_for, journaled_failures
from kgents_assets.hub.impact import impact_for, write_summary
from kgents_assets.hub.node_lookup import Miss
from kgents_assets.store import DatabaseUnavailable, Store, open_store

log = logging.getLogger(__name__)
SERVER_NAME = "kgents-hub"
INSTRUCTIONS = (
    "Code context from the kgents hub. Call node_context before editing a function to see "
    "its signature, callers, callees and tests; trust it only when freshness_status is "
    "'fresh' (otherwise follow the warning). impact_summary before changing a public API; "
    "failure_context when a test fails; discover to find code by what it does."
)

StoreOpener = Callable[[], Store]


class HubConnection:
    """The store, opened lazily and again after it went away."""

    def __init__(self, opener: StoreOpener = lambda: open_store(None)) -> None:
        self._opener = opener
        self._store: Store | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = self._opener()
            return self._store

    def forget(self) -> None:
        with self._lock:
            self._store = None


def _missing(reason: str, **extra: Any) -> dict[str, Any]:
    return {"freshness_status": "missing", "reason": reason, **extra}


def _guarded(hub: HubConnection, work: Callable[[Store], dict[str, Any]]) -> dict[str, Any]:
    try:
        return work(hub.get())
    except DatabaseUnavailable as exc:
        hub.forget()
        return _missing(f"the hub is down: {exc}")
    except Exception as exc:  # an agent must get an answer, not a broken session
        log.exception("MCP tool failed")
        hub.forget()
        return _missing(f"the hub failed: {type(exc).__name__}: {exc}")


def build_server(hub: HubConnection | None = None) -> MCPServer:
    connection = hub or HubConnection()
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS)

    @server.tool(name="node_context")
    def node_context_tool(
        target: str, repo: str | None = None, top: int = DEFAULT_TOP_N
    ) -> dict[str, Any]:
        """Hub context of one code node, given by node id, (qualified) name or
        path:line: signature, docstring, callers/callees by confidence, related tests,
        complexity, and freshness_status fresh|stale|missing with a warning."""
        try:
            store: Store | None = connection.get()
        except DatabaseUnavailable as exc:
            connection.forget()
            return _missing(f"the hub is down: {exc}", target=target, repo=repo, warning=(
                f"No hub context for {target!r}: the hub is down. Read the source directly."
            ))  # fmt: skip
        blob = node_context(store, target, repo=repo, top_n=max(1, min(top, 200)), surface="mcp")
        if blob.freshness_reason.startswith("the hub is down"):
            connection.forget()
        return blob.model_dump(mode="json")

    @server.tool()
    def discover(
        query: str,
        mode: Literal["keyword", "semantic", "hybrid"] = "hybrid",
        limit: int = 10,
        entity_type: str | None = None,
    ) -> dict[str, Any]:
        """Search the code catalog by what code does (hybrid = keyword + semantic)."""

        def work(store: Store) -> dict[str, Any]:
            from kgents_assets.catalog.errors import CatalogError, EmbedderUnavailable
            from kgents_assets.catalog.search import discover as search

            try:
                hits = search(store, query, mode, max(1, min(limit, 100)), entity_type)
            except (CatalogError, EmbedderUnavailable) as exc:
                return {"status": "error", "reason": str(exc), "hits": []}
            return {
                "status": "ok",
                "query": query,
                "mode": mode,
                "hits": [
                    {
                        "id": h.entry.id, "name": h.entry.name,
                        "type": h.entry.entity_type.value, "path": h.entry.path,
                        "description": h.entry.description, "score": round(h.score, 5),
                    }
                    for h in hits
                ],
            }  # fmt: skip

        return _guarded(connection, work)

    @server.tool()
    def failure_context(test_id: str | None = None, repo: str | None = None) -> dict[str, Any]:
        """The failure context bundle of the latest failing test (or of test_id, a pytest
        node id): its traceback frames mapped to code nodes with callers, callees, tests
        and what changed since the test last passed."""

        def work(store: Store) -> dict[str, Any]:
            with store.connect() as conn:
                found = journaled_failures(conn, repo=repo, test=test_id)
                if not found:
                    return _missing(f"no failing test{f' {test_id}' if test_id else ''} "
                                    "in the event journal")  # fmt: skip
                name = repo or found[0].repo
                if name is None:
                    names = [r[0] for r in conn.execute("SELECT name FROM repositories")]
                    if len(names) != 1:
                        return _missing("which repository ran this test? pass repo")
                    name = names[0]
                bundle = bundle_for(conn, found[0], name, repository_root(conn, name), store)
            return {"freshness_status": "fresh", "bundle": bundle.model_dump(mode="json")}

        return _guarded(connection, work)

    @server.tool()
    def impact_summary(node: str, repo: str | None = None) -> dict[str, Any]:
        """What changing or removing a public symbol breaks: every callsite (file:line,
        confidence), the tests to run, the modules exporting it, similar APIs."""

        def work(store: Store) -> dict[str, Any]:
            with store.connect() as conn:
                summary = impact_for(conn, node, repo, lambda n: repository_root(conn, n))
                if isinstance(summary, Miss):
                    return _missing(summary.reason)
                root = repository_root(conn, summary.repo)
                if root is not None:
                    write_summary(root, summary, conn)
            return {"freshness_status": "fresh", "summary": summary.model_dump(mode="json")}

        return _guarded(connection, work)

    return server


def run_stdio() -> None:
    logging.basicConfig(level=logging.WARNING)  # stderr: stdout belongs to the protocol
    build_server().run("stdio")
