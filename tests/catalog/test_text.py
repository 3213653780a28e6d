from __future__ import annotations

from kgents_assets.catalog.text import (
    expand_identifiers,
    query_terms,
    split_identifier,
    stem,
    tokens,
    truncate,
)


def test_identifiers_split_on_case_and_underscores() -> None:
    assert split_identifier("parseHTTPConfig_v2") == ["parse", "http", "config", "v", "2"]
    assert split_identifier("fetch_json") == ["fetch", "json"]
    assert split_identifier("URL") == ["url"]


def test_tokens_keep_compound_names_and_drop_stop_words() -> None:
    assert tokens("def parse_config(self): return the value") == [
        "parse_config", "parse", "config", "value",
    ]  # fmt: skip


def test_query_terms_are_unique_and_stop_words_leave_nothing() -> None:
    assert query_terms("config the Config CONFIG") == ["config"]
    assert query_terms("the of and is") == []


def test_stemmer_meets_inflections() -> None:
    assert {stem(w) for w in ("parse", "parses", "parsed", "parsing")} == {"pars"}
    assert stem("classes") == "class" and stem("status") == "status"


def test_expand_identifiers_for_full_text() -> None:
    assert expand_identifiers("call fetchJson now") == "call fetchJson fetch json now"


def test_truncate_is_deterministic_and_bounded() -> None:
    text = "alpha beta gamma " * 50
    assert truncate(text, 10_000) == text
    cut = truncate(text, 100)
    assert cut == truncate(text, 100) and len(cut) <= 101
    assert cut.endswith("…") and cut[:-1].split()[-1] in {"alpha", "beta", "gamma"}


def test_plural_then_verb_ending() -> None:
    assert stem("meetings") == stem("meeting") == "meet"
    assert stem("settings") == stem("setting") == "set"
    assert stem("values") == stem("value")


def test_expand_identifiers_keeps_everything_between_words() -> None:
    # words are ASCII identifiers or digit runs: "12ab" is two words, "ve_caf" one
    text = "  12ab x_1 __init__ HTTPServer(\n\tnaïve_café) — done.\n"
    assert expand_identifiers(text) == (
        "  12ab x_1 x 1 __init__ HTTPServer http server(\n\tnaïve_caf ve café) — done.\n"
    )
    assert expand_identifiers("") == "" and expand_identifiers("   ") == "   "


def test_tokens_of_a_text_are_those_of_its_words_in_order() -> None:
    assert tokens("parseConfig(self, HTTPServer2) parseConfig") == [
        "parseconfig", "parse", "config", "httpserver2", "http", "server",
        "parseconfig", "parse", "config",
    ]  # fmt: skip
