"""The parse workers build index rows from discovery's plain node fields, never from
CodeNodes: those rows must hold exactly what the CodeNodes (what every other reader of
discovery gets) would give, on real code of both languages."""

from __future__ import annotations

from pathlib import Path

import pytest

import kgents_assets
from kgents_assets.hub.discovery import discover, package_dir_checker
from kgents_assets.hub.file_reads import NODE_COLUMNS, ReadRequest, read_and_parse
from kgents_assets.hub.models import CodeNode
from kgents_assets.hub.node_ids import qualify_node_id
from kgents_assets.hub.scan import FileStat
from tests.hub.test_extract_js import TS

PACKAGE = Path(kgents_assets.__file__).parent
#: this project's own code (classes, methods, decorators, docstrings, nested functions,
#: imports of every form) and a TypeScript file
CORPUS = sorted(p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("language", ["python", "typescript"])
def test_rows_hold_what_the_code_nodes_give(language: str, tmp_path: Path) -> None:
    if language == "python":
        root, paths = PACKAGE.parent, CORPUS
    else:
        root, paths = tmp_path, ["web/src/cart.ts"]
        (tmp_path / "web/src").mkdir(parents=True)
        (tmp_path / "web/src/cart.ts").write_bytes(TS)
    is_pkg = package_dir_checker(root)
    checked = 0
    for rel in paths:
        data = (root / rel).read_bytes()
        fields = discover(rel, data, language, is_pkg).nodes
        models = discover(rel, data, language, is_pkg).to_extract().nodes
        info = (root / rel).stat()
        result = read_and_parse(
            root, ReadRequest(FileStat(rel, info.st_mtime_ns, info.st_size), language, None),
            2 << 20, "shop", is_pkg,
        )  # fmt: skip
        assert len(fields) == len(models) == len(result.node_rows) > 0
        for node_fields, model, row in zip(fields, models, result.node_rows, strict=True):
            # the fields are a valid CodeNode, the one discovery's callers get
            assert CodeNode.model_validate(node_fields) == model
            by_column = dict(zip(NODE_COLUMNS, row, strict=True))
            node_id = qualify_node_id("shop", model.node_id)
            assert by_column["node_id"] == node_id
            assert by_column["extract"] == model.model_copy(
                update={"node_id": node_id}
            ).model_dump_json(exclude={"source"})
            assert (by_column["source"], by_column["full_name"], by_column["kind"]) == (
                model.source, model.full_name, model.kind,
            )  # fmt: skip
            checked += 1
        assert [f.full_name for f in result.nodes] == [m.full_name for m in models]
    assert checked > (1000 if language == "python" else 4)
