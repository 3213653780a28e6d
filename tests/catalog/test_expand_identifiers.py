"""``expand_identifiers`` splits only identifiers out of the text (digit runs stay in the
gaps) and memoises words in a dict: the text it gives Postgres to index must be exactly
what the word-by-word definition gives, whatever the text holds."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from kgents_assets.catalog import text
from kgents_assets.catalog.text import expand_identifiers, split_identifier

_WORD_GROUP = re.compile(f"({text._WORD.pattern})")


def reference(source: str) -> str:
    """The definition: every word of ``text.words`` that splits into more than one part
    is followed by its parts."""
    pieces = _WORD_GROUP.split(source)
    for i in range(1, len(pieces), 2):
        parts = split_identifier(pieces[i])
        if len(parts) > 1:
            pieces[i] = f"{pieces[i]} {' '.join(parts)}"
    return "".join(pieces)


#: letters, digits (ASCII and not), underscores, separators, non-ASCII letters
ALPHABET = [*"abAB_12 xZ.(\n\t", "٣", "é", "ǅ", "²", "ß", "漢"]


def test_random_texts_are_expanded_as_the_definition_says() -> None:
    rnd = random.Random(12)
    for _ in range(30_000):
        sample = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 14)))
        assert expand_identifiers(sample) == reference(sample), repr(sample)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("parseHTTPConfig_v2(x)", "parseHTTPConfig_v2 parse http config v 2(x)"),
        ("2abc 12ab_cd a2b", "2abc 12ab_cd ab cd a2b a 2 b"),
        ("__init__ _private __x_y__ ABC Abc", "__init__ _private __x_y__ x y ABC Abc"),
        ("٣bC a٣bC x²Y", "٣bC b c a٣bC b c x²Y"),
        ("", ""),
    ],
)
def test_known_expansions(source: str, expected: str) -> None:
    assert expand_identifiers(source) == expected == reference(source)


def test_the_packages_own_sources_are_expanded_as_the_definition_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real code, with a memo so small it is emptied many times along the way."""
    monkeypatch.setattr(text, "_EXPANDED", text._Expanded(64))
    root = Path(text.__file__).resolve().parent.parent
    sources = [p.read_text() for p in sorted(root.rglob("*.py"))]
    assert len(sources) > 50
    for source in sources:
        assert expand_identifiers(source) == reference(source)
    assert 0 < len(text._EXPANDED) <= 64
