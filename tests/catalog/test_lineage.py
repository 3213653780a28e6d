"""Catalog lineage over real registered entries: both directions, depth limit, a loop
across kinds that stays finite, and ``kg library lineage`` as a user sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.errors import CatalogError, EntryNotFound, RelationshipCycle
from kgents_assets.catalog.lineage import Lineage, LineageNode, lineage
from kgents_assets.catalog.models import CatalogEntry, EntityType, RelationKind
from kgents_assets.catalog.register import register_entry
from kgents_assets.cli.main import app
from kgents_assets.store import Store

S, F, D, T = (
    RelationKind.SUCCESSOR_TO,
    RelationKind.FORKED_FROM,
    RelationKind.DEPENDS_ON,
    RelationKind.TESTED_BY,
)


def add(store: Store, entry_id: str, etype: EntityType, *edges: tuple[RelationKind, str]) -> None:
    entry = CatalogEntry(
        id=entry_id, entity_type=etype, name=entry_id.split(":", 1)[1],
        description=f"The {entry_id} artifact.",
    )  # fmt: skip
    register_entry(store, entry, HashingEmbedder(32), edges)


@pytest.fixture
def family(store: Store) -> Store:
    """parser v1 <- v2 <- v3 (successors), a fork of v2, v2 depends on a tokenizer that is
    tested by a test, and the tokenizer depends on nothing else."""
    add(store, "contract:tokenizer", EntityType.CONTRACT)
    add(store, "test:tokenizer_test", EntityType.TEST)
    add(store, "contract:parser-v1", EntityType.CONTRACT)
    add(store, "contract:parser-v2", EntityType.CONTRACT, (S, "contract:parser-v1"),
        (D, "contract:tokenizer"))  # fmt: skip
    add(store, "contract:parser-v3", EntityType.CONTRACT, (S, "contract:parser-v2"))
    add(store, "agent:parser-fork", EntityType.AGENT, (F, "contract:parser-v2"))
    add(store, "contract:tokenizer", EntityType.CONTRACT, (T, "test:tokenizer_test"))
    return store


def flat(nodes: list[LineageNode], depth: int = 1) -> list[tuple[int, str, str]]:
    rows: list[tuple[int, str, str]] = []
    for n in nodes:
        rows.append((depth, n.kind.value, n.entry.id))
        rows.extend(flat(n.children, depth + 1))
    return rows


def walk(store: Store, entry_id: str, **kw: object) -> Lineage:
    with store.connect() as conn:
        return lineage(conn, entry_id, **kw)  # type: ignore[arg-type]


def test_both_directions(family: Store) -> None:
    result = walk(family, "contract:parser-v2")
    assert result.root.name == "parser-v2" and result.root.entity_type == EntityType.CONTRACT
    assert flat(result.outgoing) == [
        (1, "depends_on", "contract:tokenizer"),
        (2, "tested_by", "test:tokenizer_test"),
        (1, "successor_to", "contract:parser-v1"),
    ]
    assert flat(result.incoming) == [
        (1, "forked_from", "agent:parser-fork"),
        (1, "successor_to", "contract:parser-v3"),
    ]
    assert result.count() == 5

    # from the oldest version, everything descends: v2 succeeds it, v3 and the fork follow
    assert flat(walk(family, "contract:parser-v1").incoming) == [
        (1, "successor_to", "contract:parser-v2"),
        (2, "forked_from", "agent:parser-fork"),
        (2, "successor_to", "contract:parser-v3"),
    ]


def test_depth_limit_marks_where_it_cut(family: Store) -> None:
    result = walk(family, "contract:parser-v1", depth=1)
    assert flat(result.incoming) == [(1, "successor_to", "contract:parser-v2")]
    assert result.incoming[0].truncated and result.incoming[0].children == []
    deep = walk(family, "contract:parser-v1", depth=5)
    assert not any(n.truncated for n in deep.incoming)
    with pytest.raises(CatalogError, match="depth must be between 1 and 20"):
        walk(family, "contract:parser-v1", depth=0)


def test_kind_filter(family: Store) -> None:
    result = walk(family, "contract:parser-v2", kinds=[S])
    assert flat(result.outgoing) == [(1, "successor_to", "contract:parser-v1")]
    assert flat(result.incoming) == [(1, "successor_to", "contract:parser-v3")]


def test_loop_across_kinds_is_finite(family: Store) -> None:
    """Per-kind acyclicity allows tokenizer -successor_to-> parser-v2 -depends_on->
    tokenizer: the walk shows the way back to an entry once, as 'repeated'."""
    with pytest.raises(RelationshipCycle):  # a cycle within one kind is still refused
        add(family, "contract:parser-v1", EntityType.CONTRACT, (S, "contract:parser-v3"))
    add(family, "contract:tokenizer", EntityType.CONTRACT, (T, "test:tokenizer_test"),
        (S, "contract:parser-v2"))  # fmt: skip
    result = walk(family, "contract:parser-v2", depth=20)
    assert flat(result.outgoing) == [
        (1, "depends_on", "contract:tokenizer"),
        (2, "successor_to", "contract:parser-v2"),
        (2, "tested_by", "test:tokenizer_test"),
        (1, "successor_to", "contract:parser-v1"),
    ]
    back = result.outgoing[0].children[0]
    assert back.repeated and back.children == []
    # incoming now includes the tokenizer, whose own predecessors are expanded once
    assert (1, "successor_to", "contract:tokenizer") in flat(result.incoming)


def test_unknown_entry(family: Store) -> None:
    with pytest.raises(EntryNotFound, match="no catalog entry 'contract:nope'"):
        walk(family, "contract:nope")


runner = CliRunner()


@pytest.fixture
def cli_env(family: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("KGENTS_DATABASE_URL", family.url)
    monkeypatch.setenv("KGENTS_REPO", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return family


def test_cli_tree_and_json(cli_env: Store) -> None:
    result = runner.invoke(app, ["library", "lineage", "contract:parser-v2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "parser-v2" in lines[0] and "contract:parser-v2 (contract, active)" in lines[0]
    text = result.stdout
    assert text.index("points to") < text.index("→ depends_on  tokenizer")
    assert text.index("→ depends_on  tokenizer") < text.index("→ tested_by  tokenizer_test")
    assert text.index("pointed to by") < text.index("← forked_from  parser-fork")
    assert "← successor_to  parser-v3" in text
    assert "5 related entries within 3 edges" in text

    result = runner.invoke(app, ["library", "lineage", "contract:parser-v1", "-d", "1"])
    assert "more beyond the depth limit" in result.stdout

    result = runner.invoke(
        app, ["library", "lineage", "contract:parser-v2", "--kind", "tested_by", "--json"]
    )
    data = json.loads(result.stdout)
    assert data["kinds"] == ["tested_by"] and data["outgoing"] == [] and data["incoming"] == []

    result = runner.invoke(app, ["library", "lineage", "test:tokenizer_test", "--json"])
    data = json.loads(result.stdout)
    assert data["root"]["entity_type"] == "test"
    assert [n["entry"]["id"] for n in data["incoming"]] == ["contract:tokenizer"]
    assert [n["entry"]["id"] for n in data["incoming"][0]["children"]] == ["contract:parser-v2"]


def test_cli_errors(cli_env: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["library", "lineage", "agent:ghost"])
    assert result.exit_code == 1 and "no catalog entry 'agent:ghost'" in result.stderr
    result = runner.invoke(app, ["library", "lineage", "agent:parser-fork", "--depth", "0"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["library", "lineage", "agent:parser-fork", "--kind", "likes"])
    assert result.exit_code == 2 and "likes" in result.stderr
    monkeypatch.setenv("KGENTS_DATABASE_URL", "postgresql://kg:secret@127.0.0.1:9/none")
    result = runner.invoke(app, ["library", "lineage", "agent:parser-fork"])
    assert result.exit_code == 2 and "cannot reach the database" in result.stderr
    assert "secret" not in result.stderr
