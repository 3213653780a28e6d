"""A state's edges: by name then id, and past the cap the most confident ones (ties by name,
then id), whatever order they were found in."""

from __future__ import annotations

import random

import pytest

from kgents_assets.hub.new_states import EdgeEnd, ordered_edges


def _reference(items: list[EdgeEnd], cap: int | None) -> list[EdgeEnd]:
    """The rule as the state format defines it, one sort key per step."""
    if cap is not None and len(items) > cap:
        items = sorted(items, key=lambda x: (-x[2], x[1], x[0]))[:cap]
    return sorted(items, key=lambda x: (x[1], x[0]))


@pytest.mark.parametrize("seed", range(40))
def test_ordered_edges_follow_the_rule(seed: int) -> None:
    rnd = random.Random(seed)
    names = [f"pkg.mod{rnd.randrange(4)}.f{rnd.randrange(6)}" for _ in range(12)]
    items: list[EdgeEnd] = [
        (f"r:{rnd.randrange(40):020x}", rnd.choice(names), rnd.choice([1.0, 0.9, 0.5, 0.3]), False)
        for _ in range(rnd.randrange(0, 90))
    ]
    # the same node id under one name only, as resolution gives them
    items = list({i[0]: i for i in items}.values())
    rnd.shuffle(items)
    for cap in (None, 0, 1, 5, 50):
        got = ordered_edges(items, cap)
        assert got == _reference(items, cap), (seed, cap)
    before = list(items)
    ordered_edges(items, 5)
    assert items == before  # the caller's list is left as it was given
