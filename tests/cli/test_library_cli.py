"""``kg library`` end to end: the real CLI against a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.cli.main import app
from kgents_assets.store import Store
from tests.catalog.conftest import CORPUS, REPO, put_nodes

runner = CliRunner()


@pytest.fixture
def env(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KGENTS_DATABASE_URL", store.url)
    monkeypatch.setenv("KGENTS_REPO", str(tmp_path))
    monkeypatch.setenv("KGENTS_EMBEDDER", "hashing:64")
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def kg(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["library", *args])
    return result.exit_code, result.stdout, result.stderr


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_register_show_catalog_discover(env: Path) -> None:
    spec = write(env, "specs/summarizer.md", "# Summarizer\n\nAn agent that condenses long "
                 "meeting transcripts into action items.\n")  # fmt: skip
    code, stdout, _ = kg("register", str(spec), "--type", "agent", "-k", "NLP", "--json")
    assert code == 0, stdout
    entry = json.loads(stdout)
    assert entry["id"] == "agent:specs/summarizer.md" and entry["keywords"] == ["nlp"]
    assert entry["description"].startswith("An agent that condenses")
    assert entry["path"] == "specs/summarizer.md"

    code, stdout, _ = kg("show", entry["id"])
    assert code == 0 and "hashing-v1:64 (64 dims)" in stdout and "condenses" in stdout

    code, stdout, _ = kg("catalog", "--type", "agent", "--json")
    assert [e["name"] for e in json.loads(stdout)] == ["summarizer"]
    code, stdout, _ = kg("catalog")
    assert code == 0 and "summarizer" in stdout

    for flag in ("--semantic", "--keyword", None):
        args = ["discover", "summarise a meeting transcript", "--json"] + ([flag] if flag else [])
        code, stdout, _ = kg(*args)
        assert code == 0, stdout
        hits = json.loads(stdout)
        assert hits[0]["entry"]["id"] == entry["id"] and hits[0]["score"] > 0
    code, stdout, _ = kg("discover", "meeting transcripts")
    assert code == 0 and "summarizer" in stdout and "hybrid search" in stdout


def test_reindex_and_stats(env: Path, store: Store) -> None:
    put_nodes(store, CORPUS, mark=False)
    code, stdout, _ = kg("reindex", "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["mode"] == "full" and report["added"] == len(CORPUS)
    code, stdout, _ = kg("stats", "--json")
    stats = json.loads(stdout)
    assert stats["entries"] == stats["embedded_current"] == len(CORPUS)
    assert stats["by_type"] == {"function": 3, "method": 1, "test": 1}
    assert stats["relationships"] == {"tested_by": 1}
    code, stdout, _ = kg("stats")
    assert code == 0 and f"{len(CORPUS)} entries" in stdout
    code, stdout, _ = kg(
        "discover", "yaml configuration", "--type", "function", "-n", "1", "--json"
    )
    assert [h["entry"]["name"] for h in json.loads(stdout)] == ["app.config.parse_config"]


def test_bad_input_is_a_clear_error_and_writes_nothing(env: Path) -> None:
    empty = write(env, "notes/empty.txt", "\n   \n")
    code, _, stderr = kg("register", str(empty), "--type", "memory")
    assert code == 1 and "no description" in stderr
    code, _, stderr = kg("register", str(empty), "--type", "widget", "-d", "x")
    assert code == 1 and "unknown entity type 'widget'" in stderr
    code, _, stderr = kg("discover", "the and of")
    assert code == 1 and "only stop words" in stderr
    code, _, stderr = kg("discover", "x", "--semantic", "--keyword")
    assert code == 2 and "choose one" in stderr
    code, _, stderr = kg("show", "nope:missing")
    assert code == 1 and "no catalog entry 'nope:missing'" in stderr
    code, stdout, _ = kg("stats", "--json")
    assert json.loads(stdout)["entries"] == 0


def test_relationship_cycle_is_refused_atomically(env: Path) -> None:
    v1 = write(env, "specs/v1.md", "Parser contract, first version.\n")
    v2 = write(env, "specs/v2.md", "Parser contract, second version.\n")
    assert kg("register", str(v1), "--type", "contract")[0] == 0
    assert (
        kg("register", str(v2), "--type", "contract", "--successor-to", "contract:specs/v1.md")[0]
        == 0
    )
    code, _, stderr = kg(
        "register", str(v1), "--type", "contract", "-d", "changed",
        "--successor-to", "contract:specs/v2.md",
    )  # fmt: skip
    assert code == 1 and "cycle" in stderr
    code, stdout, _ = kg("show", "contract:specs/v1.md", "--json")
    shown = json.loads(stdout)
    assert shown["description"] == "Parser contract, first version."  # not half-written
    assert shown["incoming"] == [{"kind": "successor_to", "src": "contract:specs/v2.md"}]


def test_embedder_mismatch_names_the_fix(env: Path, store: Store) -> None:
    put_nodes(store, CORPUS)
    sync_catalog(store, HashingEmbedder(64), repo=REPO)
    code, _, stderr = kg("discover", "yaml", "--semantic", "--embedder", "hashing:32")
    assert code == 1 and "kg library reindex" in stderr
    code, _, stderr = kg("discover", "yaml", "--embedder", "bert:base")
    assert code == 1 and "unknown embedder backend 'bert'" in stderr


def test_database_down_is_exit_2(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGENTS_DATABASE_URL", "postgresql://kg:secret@127.0.0.1:9/none")
    code, _, stderr = kg("stats")
    assert code == 2 and "cannot reach the database" in stderr and "secret" not in stderr
