"""Helpers for catalog tests: node states written the way the hub's ``node_state`` stage
writes them (kv + hub_nodes + a ``catalog`` mark in hub_dirty)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from psycopg.types.json import Jsonb

from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.node_ids import make_node_id, qualify_node_id
from kgents_assets.store import Store

#: the repository the test nodes belong to
REPO = "pkg"


@dataclass
class Node:
    """A node as the hub would store it: its state and its source."""

    state: NodeState
    source: str
    repo: str = REPO

    @property
    def id(self) -> str:
        return self.state.node_id


def make_node(
    qualname: str,
    doc: str | None,
    source: str,
    *,
    file_path: str = "pkg/mod.py",
    kind: str = "function",
    is_test: bool = False,
    related_tests: Iterable[str] = (),
    repo: str = REPO,
) -> Node:
    module = file_path.removesuffix(".py").replace("/", ".")
    state = NodeState(
        node_id=qualify_node_id(repo, make_node_id(file_path, kind, qualname)),
        kind=kind,  # type: ignore[arg-type]
        name=qualname.rsplit(".", 1)[-1],
        qualname=qualname,
        full_name=f"{module}.{qualname}",
        file_path=file_path,
        language="python",
        start_line=1,
        end_line=source.count("\n") + 1,
        source_hash=str(hash(source)),
        signature=source.splitlines()[0] if source else "",
        docstring_summary=doc,
        is_test=is_test,
        related_tests=list(related_tests),
    )
    return Node(state, source, repo)


def put_nodes(store: Store, nodes: Iterable[Node], *, mark: bool = True) -> None:
    """Write states + hub rows, and mark them for the catalog (as node_state does)."""
    with store.transaction() as conn:
        for node in nodes:
            s = node.state
            conn.execute(
                "INSERT INTO repositories (name, source, location) VALUES (%s, 'local', '/') "
                "ON CONFLICT (name) DO NOTHING",
                (node.repo,),
            )
            conn.execute(
                "INSERT INTO kv (repo, key, value) VALUES (%s, %s, %s) ON CONFLICT (key) "
                "DO UPDATE SET value = EXCLUDED.value",
                (node.repo, f"node:{s.node_id}:state", Jsonb(s.model_dump(mode="json"))),
            )
            conn.execute(
                "INSERT INTO hub_nodes (repo, node_id, file_path, kind, name, qualname, "
                "full_name, is_test, source, extract) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, '{}') "
                "ON CONFLICT (node_id) DO UPDATE SET source = EXCLUDED.source",
                (node.repo, s.node_id, s.file_path, s.kind, s.name, s.qualname, s.full_name,
                 s.is_test, node.source),
            )  # fmt: skip
            if mark:
                mark_catalog(conn, [s.node_id], node.repo)


def remove_nodes(store: Store, nodes: Iterable[Node]) -> None:
    with store.transaction() as conn:
        for node in nodes:
            conn.execute("DELETE FROM kv WHERE key = %s", (f"node:{node.id}:state",))
            conn.execute("DELETE FROM hub_nodes WHERE node_id = %s", (node.id,))
            mark_catalog(conn, [node.id], node.repo)


def mark_catalog(conn: object, ids: list[str], repo: str = REPO) -> None:
    conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO hub_dirty (repo, node_id, stage) "
        "SELECT %s, unnest(%s::text[]), 'catalog' "
        "ON CONFLICT (node_id, stage) DO UPDATE SET marked_at = now()",
        (repo, ids),
    )


def catalog_marks(store: Store) -> set[str]:
    with store.connect() as conn:
        rows = conn.execute("SELECT node_id FROM hub_dirty WHERE stage = 'catalog'").fetchall()
    return {r[0] for r in rows}


CORPUS = [
    make_node(
        "parse_config",
        "Read the YAML configuration file and return its settings.",
        "def parse_config(path):\n    with open(path) as f:\n        return yaml.safe_load(f)",
        file_path="app/config.py",
    ),
    make_node(
        "render_page",
        "Render an HTML page from a Jinja template.",
        "def render_page(template, context):\n    return env.get_template(template).render(**context)",
        file_path="app/web.py",
    ),
    make_node(
        "HttpClient.fetch_json",
        "Download a URL over HTTP and decode the JSON body.",
        "def fetch_json(self, url):\n    response = self.session.get(url)\n    return response.json()",
        file_path="app/http.py",
        kind="method",
    ),
    make_node(
        "hash_password",
        "Derive a salted hash of a password with scrypt.",
        "def hash_password(password, salt):\n    return hashlib.scrypt(password, salt=salt, n=2**14)",
        file_path="app/auth.py",
        related_tests=["tests.test_auth.test_hash_password"],
    ),
    make_node(
        "test_hash_password",
        None,
        "def test_hash_password():\n    assert hash_password(b'pw', b'salt') != b'pw'",
        file_path="tests/test_auth.py",
        is_test=True,
    ),
]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(256)
