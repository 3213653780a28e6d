from __future__ import annotations

from kgents_assets.hub.discovery import extract_source

ORIGINAL = b"""
def alpha(x):
    return beta(x)


def beta(y):
    return y * 2


class Gamma:
    def run(self):
        return alpha(1)
"""

# The same code reformatted (spacing, wrapping, blank lines) and reordered.
REFORMATTED = b"""
class Gamma:

    def run(self):
        return alpha(
            1
        )



def beta(y): return y*2
def alpha(x):
    return beta(x)
"""


def ids(source: bytes) -> dict[tuple[str, str], str]:
    ex = extract_source("pkg/mod.py", source, "python", lambda d: False)
    return {(n.kind, n.qualname): n.node_id for n in ex.nodes}


def test_ids_survive_reformatting_and_moving_code_within_the_file() -> None:
    assert ids(ORIGINAL) == ids(REFORMATTED)


def test_ids_differ_by_path_kind_and_qualname() -> None:
    other = extract_source("pkg/other.py", ORIGINAL, "python", lambda d: False)
    assert {n.node_id for n in other.nodes}.isdisjoint(ids(ORIGINAL).values())
    assert len(set(ids(ORIGINAL).values())) == len(ids(ORIGINAL))


def test_a_later_duplicate_never_renames_the_original() -> None:
    before = ids(ORIGINAL)[("function", "alpha")]
    dup = ORIGINAL + b"\nif True:\n    def alpha(x):\n        return 0\n"
    ex = extract_source("pkg/mod.py", dup, "python", lambda d: False)
    alphas = [n for n in ex.nodes if n.qualname == "alpha"]
    assert alphas[0].node_id == before and alphas[1].node_id != before
