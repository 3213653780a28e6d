"""Rules: which update each signal of a diff bundle calls for.

The mapping is the documented one: a signature change asks for extract_signature, a
complexity delta for compute_complexity, semantic drift for search_similar, a new function
for find_tests and generate_test_skeleton; relational changes for find_callers,
find_callees and find_tests. Any change re-derives the summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from kgents_assets.hub.diff_bundle import DiffBundle

#: signal -> the tools it calls for, in the order they run
RULES: dict[str, tuple[str, ...]] = {
    "new_node": (
        "extract_source_facts",
        "extract_signature",
        "compute_complexity",
        "find_callers",
        "find_callees",
        "find_tests",
        "generate_test_skeleton",
    ),
    "source_changed": ("extract_source_facts",),
    "moved": ("extract_source_facts",),
    "renamed": ("generate_test_skeleton",),
    # the suggested test quotes the signature, so it follows it
    "signature_changed": ("extract_signature", "generate_test_skeleton"),
    "decorators_changed": ("extract_signature",),
    "complexity_delta": ("compute_complexity",),
    "callers_changed": ("find_callers",),
    "callees_changed": ("find_callees",),
    "tests_changed": ("find_tests", "generate_test_skeleton"),
    "embedding_drift": ("search_similar",),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    tool: str
    signals: list[str]


def candidates_for(bundle: DiffBundle) -> list[Candidate]:
    """Candidate updates for a bundle, each tool once, with every signal that asked."""
    by_tool: dict[str, list[str]] = {}
    for signal in bundle.signals():
        for tool in RULES.get(signal, ()):
            by_tool.setdefault(tool, []).append(signal)
    if by_tool:
        by_tool.setdefault("summarize", sorted({s for sig in by_tool.values() for s in sig}))
    return [Candidate(tool=tool, signals=signals) for tool, signals in by_tool.items()]
