"""Polling many git remotes at once: moved branches found, a broken remote reported apart,
and a cursor that survives being mangled."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgents_assets.repos.remote_poll import (
    PollResult,
    decode_cursor,
    encode_cursor,
    poll_remotes,
)
from tests.repos.upstream import Upstream


def test_moved_remotes_are_found_and_a_broken_one_does_not_stop_the_others(
    upstream: Upstream, tmp_path: Path
) -> None:
    other = Upstream.create(tmp_path / "other")
    other_sha = other.commit({"x.py": "x = 1\n"})
    main_before = upstream.shas[1]
    main_after = upstream.commit({"pkg/new.py": "n = 1\n"})

    result = poll_remotes(
        [
            ("moved", upstream.url, "main", main_before),
            ("gone", "file:///nonexistent", None, None),
            ("still", upstream.url, "dev", upstream.shas[2]),
            ("no-branch", upstream.url, "release", None),
            ("first-time", str(other.bare), None, None),
        ]
    )

    assert result.moved == {"moved": main_after, "first-time": other_sha}
    assert result.heads == {"moved": main_after, "still": upstream.shas[2], "first-time": other_sha}
    assert sorted(result.errors) == ["gone", "no-branch"]
    assert "does not appear to be a git repository" in result.errors["gone"]
    assert "branch 'release' does not exist" in result.errors["no-branch"]
    assert "branches there: dev, main" in result.errors["no-branch"]


def test_nothing_to_poll() -> None:
    assert poll_remotes([]) == PollResult()


def test_cursor_round_trips() -> None:
    seen = {"b": "2" * 40, "a": "1" * 40}
    raw = encode_cursor(seen)
    assert raw == '{"a":"' + "1" * 40 + '","b":"' + "2" * 40 + '"}'
    assert decode_cursor(raw) == (seen, None)
    assert decode_cursor(None) == ({}, None)
    assert decode_cursor("") == ({}, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "cursor is not JSON"),
        ('"a1b2c3"', "cursor is a JSON str, not an object"),
        ("[1, 2]", "cursor is a JSON list, not an object"),
    ],
)
def test_a_malformed_cursor_is_empty_with_the_reason(raw: str, reason: str) -> None:
    seen, why = decode_cursor(raw)
    assert seen == {}
    assert why is not None and why.startswith(reason)


def test_cursor_entries_without_a_sha_are_dropped_and_named() -> None:
    seen, why = decode_cursor('{"ok": "abc123", "bad": 7, "empty": ""}')
    assert seen == {"ok": "abc123"}
    assert why == "cursor entries without a sha dropped: bad, empty"
