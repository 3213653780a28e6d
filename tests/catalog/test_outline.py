"""A class's or module's catalog entry holds its outline: its own code, each direct child
reduced to its signature (its decorators kept as written). The children keep their whole code in their own entries,
so a word found only in a method's body finds the method, and editing a body re-embeds
only the entry whose text changed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kgents_assets.catalog import nodes, storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.outline import Child, outline
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.state_store import load_state
from kgents_assets.store import Store

CLASS_SOURCE = '''\
@dataclass
class Shape:
    """A plane figure."""

    sides: int = 0

    @property
    @functools.cache
    def area(self):
        """The surface it covers."""
        return trapezoid_integral(self.outline)

    def scale(
        self,
        factor,
    ):
        return Shape(self.sides * factor)'''


def test_children_become_their_headers_and_the_parent_keeps_its_own_lines() -> None:
    children = [
        Child(9, 11, "def area(self)"),
        Child(13, 17, "def scale( self, factor, )"),
    ]
    assert outline(CLASS_SOURCE, 1, children) == textwrap.dedent('''\
        @dataclass
        class Shape:
            """A plane figure."""

            sides: int = 0

            @property
            @functools.cache
            def area(self)

            def scale( self, factor, )''')


def test_children_it_cannot_place_leave_the_text_as_it_is() -> None:
    text = "class A:\n    x = 1\n    def f(self):\n        return 2"
    # besides f: a child overlapping f, one outside the source, one ending before it starts
    odd = [
        Child(12, 13, "def f(self)"),
        Child(13, 13, "def inner()"),
        Child(30, 40, "def g(self)"),
        Child(12, 11, "def h()"),
    ]
    assert outline(text, 10, odd) == "class A:\n    x = 1\n    def f(self)"
    assert outline(text, 10, []) == text
    # a child discovery gave no signature keeps its first line
    assert outline(text, 10, [Child(12, 13, "")]) == "class A:\n    x = 1\n    def f(self):"


FILES = {
    "geo/__init__.py": "",
    "geo/shapes.py": '''
        """Plane figures."""
        import math


        @total_ordering
        class Circle:
            """A round figure of a given radius."""

            def __init__(self, radius):
                self.radius = radius

            @property
            @cached(
                maxsize=1,
            )
            def area(self):
                return math.pi * self.radius ** 2 * quadrature_correction()

            def perimeter(self):
                return 2 * math.pi * self.radius


        def unit_circle():
            """The circle of radius one."""
            return Circle(1)
        ''',
}


def write_repo(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def bodies(store: Store) -> dict[str, str]:
    with store.connect() as conn:
        return dict(conn.execute("SELECT name, body FROM catalog_entries").fetchall())


def vectors_at(store: Store) -> dict[str, object]:
    with store.connect() as conn:
        return dict(
            conn.execute(
                "SELECT e.name, v.embedded_at FROM catalog_entries e "
                "JOIN catalog_embeddings v ON v.entry_id = e.id"
            ).fetchall()
        )


@pytest.fixture
def built(store: Store, tmp_path: Path) -> Path:
    write_repo(tmp_path)
    refresh_repository(store, tmp_path, repo="geo", workers=1)
    sync_catalog(store, HashingEmbedder(128), repo="geo")
    return tmp_path


def test_entries_of_classes_and_modules_hold_outlines(store: Store, built: Path) -> None:
    body = bodies(store)
    # decorated, with decorated members: what lines are whose must still come out right
    assert body["geo.shapes.Circle"] == textwrap.dedent('''\
        class Circle
        @total_ordering
        class Circle:
            """A round figure of a given radius."""

            def __init__(self, radius)

            @property
            @cached(
                maxsize=1,
            )
            def area(self)

            def perimeter(self)''')
    # the module: its docstring, imports and each top-level definition's signature
    assert body["geo.shapes"] == textwrap.dedent('''
        """Plane figures."""
        import math


        @total_ordering
        class Circle


        def unit_circle()
        ''')
    # a method's entry holds its whole code
    assert "quadrature_correction()" in body["geo.shapes.Circle.area"]
    # so a word of one body finds that definition alone
    hits = discover(store, "quadrature_correction", mode="keyword", embedder=HashingEmbedder(128))
    assert [h.entry.name for h in hits] == ["geo.shapes.Circle.area"]


def test_an_edit_reembeds_the_entries_whose_text_changed(store: Store, built: Path) -> None:
    embedder = HashingEmbedder(128)
    shapes = built / "geo/shapes.py"
    before = vectors_at(store)
    # a body edit: the method's text changes, the class's and module's outlines do not
    shapes.write_text(shapes.read_text().replace("quadrature_correction()", "1.0"))
    refresh_repository(store, built, repo="geo", changed_paths=["geo/shapes.py"], workers=1)
    report = sync_catalog(store, embedder, repo="geo")
    after = vectors_at(store)
    assert report.reembedded == 1
    assert {n for n in after if after[n] != before[n]} == {"geo.shapes.Circle.area"}
    # a renamed method: a new entry, and its class's outline names it
    shapes.write_text(shapes.read_text().replace("def perimeter(", "def circumference("))
    refresh_repository(store, built, repo="geo", changed_paths=["geo/shapes.py"], workers=1)
    report = sync_catalog(store, embedder, repo="geo")
    assert (report.added, report.removed, report.reembedded) == (1, 1, 2)
    assert "def circumference(self)" in bodies(store)["geo.shapes.Circle"]
    assert "def perimeter" not in bodies(store)["geo.shapes.Circle"]
    # the incremental result is what a full reconcile computes
    full = sync_catalog(store, embedder, repo="geo", full=True)
    assert (full.added, full.updated, full.removed, full.reembedded) == (0, 0, 0, 0)


def test_a_catalog_written_before_outlines_is_rebuilt_once(store: Store, built: Path) -> None:
    embedder = HashingEmbedder(128)
    outlined = bodies(store)
    # what an earlier release stored: every entry with the node's whole source, no format
    with store.transaction() as conn:
        storage.prepare(conn)
        rows = conn.execute(
            "SELECT node_id, source FROM hub_nodes WHERE kind IN ('class', 'module')"
        )
        old = [
            nodes.node_entry(state, source)
            for node_id, source in rows.fetchall()
            if (state := load_state(conn, node_id)) is not None
        ]
        storage.upsert_entries(conn, old)
        storage.upsert_embeddings(conn, old, embedder.embed([storage.embedding_text(e) for e in old]), embedder)  # fmt: skip
        conn.execute("DELETE FROM kv WHERE key = %s", (nodes.NODE_ENTRY_FORMAT_KEY,))
    assert "quadrature_correction" in bodies(store)["geo.shapes.Circle"]

    report = sync_catalog(store, embedder, repo="geo")  # no mark pending: still rebuilt
    assert report.mode == "full" and "format 1" in report.reason
    # the class and the module get their outlines back; the methods' text is unchanged
    assert report.reembedded == 2
    assert bodies(store) == outlined
    again = sync_catalog(store, embedder, repo="geo")
    assert again.mode == "incremental" and again.reembedded == 0
