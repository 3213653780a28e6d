"""Languages discovery understands, keyed by file suffix, with their tree-sitter grammars.

Grammars come from the official ``tree-sitter-<lang>`` wheels, which ship compiled
parsers: nothing is downloaded at run time, so discovery works offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import tree_sitter as ts


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    suffixes: tuple[str, ...]


PYTHON = LanguageSpec("python", (".py", ".pyi"))
JAVASCRIPT = LanguageSpec("javascript", (".js", ".mjs", ".cjs", ".jsx"))
TYPESCRIPT = LanguageSpec("typescript", (".ts", ".mts", ".cts"))
TSX = LanguageSpec("tsx", (".tsx",))

LANGUAGES = (PYTHON, JAVASCRIPT, TYPESCRIPT, TSX)
_BY_SUFFIX = {suffix: spec.name for spec in LANGUAGES for suffix in spec.suffixes}


def language_for_path(path: str) -> str | None:
    """The language name of a repository path, or None when discovery ignores it."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    if dot <= 0 or name.endswith(".d.ts"):  # no suffix, a dotfile, or declarations only
        return None
    return _BY_SUFFIX.get(name[dot:].lower())


@cache
def ts_language(name: str) -> ts.Language:
    if name == "python":
        import tree_sitter_python as grammar

        return ts.Language(grammar.language())
    if name == "javascript":
        import tree_sitter_javascript as js_grammar

        return ts.Language(js_grammar.language())
    if name in ("typescript", "tsx"):
        import tree_sitter_typescript as ts_grammar

        return ts.Language(
            ts_grammar.language_typescript() if name == "typescript" else ts_grammar.language_tsx()
        )
    raise ValueError(f"no tree-sitter grammar for language {name!r}")


@cache
def ts_parser(name: str) -> ts.Parser:
    return ts.Parser(ts_language(name))


@cache
def ts_query(name: str, source: str) -> ts.Query:
    return ts.Query(ts_language(name), source)
