"""Seeded generators for every demo-world fixture kind (DESIGN.md §4).

Deterministic: the output depends only on the GenerationContext (name, seed, entropy,
params), never on the clock, so regenerating an unchanged fixture rewrites identical bytes
and a committed fixture diff means the generator changed.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta

from kgents_assets.hotdata.generators.base import GenerationContext, GeneratorRegistry
from kgents_assets.hotdata.models import (
    AgentSnapshot,
    FluxState,
    GardenSnapshot,
    Phase,
    PolynomialState,
    Thought,
    ThoughtStream,
    YieldTurn,
    YieldTurnLog,
)

WORLD_GENERATORS = GeneratorRegistry()

# A fixed epoch keeps timestamps reproducible; seeds move it by whole hours.
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

AGENT_LETTERS = [
    "k",
    "a",
    "b",
    "d",
    "e",
    "f",
    "h",
    "i",
    "j",
    "l",
    "m",
    "n",
    "o",
    "p",
    "r",
    "t",
    "u",
    "w",
    "y",
    "z",
]
ROLES = {
    "k": "soul",
    "a": "architect",
    "b": "bookkeeper",
    "d": "dreamer",
    "e": "epistemologist",
    "f": "forge",
    "h": "hegelian",
    "i": "imager",
    "j": "judge",
    "l": "librarian",
    "m": "memory",
    "n": "narrator",
    "o": "observer",
    "p": "parser",
    "r": "refinery",
    "t": "tester",
    "u": "utility",
    "w": "witness",
    "y": "yield",
    "z": "zen",
}
ACTIVITIES = [
    "composing a morphism",
    "indexing the catalog",
    "dreaming of fixtures",
    "tracing a dialectic",
    "parsing a tongue",
    "awaiting a human",
    "pruning memory",
    "weaving a narrative",
    "testing a hypothesis",
    "observing the garden",
    "refining a prompt",
    "reconciling a ledger",
]
GARDEN_NAMES = ["Observatory", "Greenhouse", "Archive", "Forge", "Nursery", "Cloister"]
MODES = ["idle", "sensing", "deliberating", "acting", "reflecting", "yielding", "resting"]
INPUTS_BY_MODE = {
    "idle": ["wake", "perturb"],
    "sensing": ["observe", "focus", "sleep"],
    "deliberating": ["decide", "doubt", "yield"],
    "acting": ["emit", "complete", "fail"],
    "reflecting": ["summarize", "learn"],
    "yielding": ["approve", "reject"],
    "resting": ["wake"],
}
TURN_TYPES = ["action", "question", "proposal", "confirmation"]
THOUGHT_TAGS = ["insight", "doubt", "plan", "memory", "dialectic", "humor", "care", "risk"]
THOUGHT_SEEDS = [
    "The garden breathes slower when nobody watches.",
    "A fixture is a promise that the demo will not lie.",
    "Two perturbations arrived at once; the older one waits.",
    "Composition first, cleverness later.",
    "This test names a function that no longer exists.",
    "Entropy budget at {pct}%: room for one more idea.",
    "The judge asked for evidence; the tester has it.",
    "Memory pruned {n} stale traces without losing a lesson.",
    "A human is needed: the change touches a public signature.",
    "Dormant agents still keep their connections warm.",
]


def _agent_ids(rng: random.Random, count: int) -> list[str]:
    letters = rng.sample(AGENT_LETTERS, k=min(count, len(AGENT_LETTERS)))
    while len(letters) < count:  # more agents than letters: number the extra ones
        letters.append(f"{rng.choice(AGENT_LETTERS)}{len(letters)}")
    return [f"{letter}-gent" for letter in letters]


def _phase(rng: random.Random, entropy: float) -> Phase:
    # Low entropy: a calm, mostly active world; high entropy: every phase shows up.
    weights = [1.0, 0.2 + entropy, 0.2 + entropy, 0.1 + entropy, entropy * 0.5]
    return rng.choices(list(Phase), weights=weights, k=1)[0]


def _activity(rng: random.Random, phase: Phase, entropy: float) -> float:
    centre = {
        Phase.ACTIVE: 0.75,
        Phase.WAKING: 0.45,
        Phase.WANING: 0.3,
        Phase.DORMANT: 0.05,
        Phase.VOID: 0.0,
    }[phase]
    value = centre + rng.uniform(-0.25, 0.25) * entropy
    return round(min(1.0, max(0.0, value)), 3)


def _agent(
    rng: random.Random,
    agent_id: str,
    entropy: float,
    *,
    x: int,
    y: int,
    peers: list[str],
    children: list[str],
) -> AgentSnapshot:
    letter = agent_id.split("-", 1)[0][0]
    phase = _phase(rng, entropy)
    links = rng.sample(peers, k=min(len(peers), rng.randint(0, 1 + round(3 * entropy))))
    return AgentSnapshot(
        id=agent_id,
        name=f"{letter.upper()}-gent",
        phase=phase,
        activity=_activity(rng, phase, entropy),
        children=children,
        summary=f"The {ROLES.get(letter, 'agent')}, {rng.choice(ACTIVITIES)}.",
        grid_x=x,
        grid_y=y,
        connections={peer: round(rng.uniform(0.1, 1.0), 2) for peer in sorted(links)},
    )


def _flux_state(ctx: GenerationContext) -> FluxState:
    rng = ctx.rng()
    width = int(ctx.params.get("grid_width", 8))
    height = int(ctx.params.get("grid_height", 6))
    count = min(int(ctx.params.get("agents", ctx.count(5, 14))), width * height)
    ids = _agent_ids(rng, count)
    cells = rng.sample([(x, y) for x in range(width) for y in range(height)], k=count)
    agents: dict[str, AgentSnapshot] = {}
    for index, (agent_id, (x, y)) in enumerate(zip(ids, cells, strict=True)):
        peers = [other for other in ids if other != agent_id]
        # The first agent (the K-gent) parents a few others: the terrarium draws the tree.
        children = ids[1 : 1 + round(2 * ctx.entropy) + 1] if index == 0 else []
        agents[agent_id] = _agent(
            rng, agent_id, ctx.entropy, x=x, y=y, peers=peers, children=children
        )
    focused = rng.choice(ids) if ids else None
    return FluxState(agents=agents, focused_id=focused, grid_width=width, grid_height=height)


@WORLD_GENERATORS.register("agent_snapshots")
async def agent_snapshot(ctx: GenerationContext) -> AgentSnapshot:
    """One agent with children and connections, placed on the default 8x6 grid."""
    rng = ctx.rng()
    ids = _agent_ids(rng, ctx.count(3, 9))
    main, others = ids[0], ids[1:]
    return _agent(
        rng,
        main,
        ctx.entropy,
        x=rng.randrange(8),
        y=rng.randrange(6),
        peers=others,
        children=others[: 1 + round(2 * ctx.entropy)],
    )


@WORLD_GENERATORS.register("flux_states")
async def flux_state(ctx: GenerationContext) -> FluxState:
    """A terrarium grid: agents at distinct cells, a focused agent, consistent ids."""
    return _flux_state(ctx)


@WORLD_GENERATORS.register("garden_states")
async def garden_state(ctx: GenerationContext) -> GardenSnapshot:
    rng = ctx.rng()
    health = round(min(1.0, max(0.0, 0.85 - rng.uniform(0.0, 0.7) * ctx.entropy)), 3)
    # Sick gardens diverge, healthy ones converge or rest: the states tell a story.
    if health < 0.4:
        state = "diverging"
    elif ctx.entropy < 0.2:
        state = "stable"
    else:
        state = rng.choice(["idle", "converging", "stable"])
    name = rng.choice(GARDEN_NAMES)
    return GardenSnapshot(
        id=f"garden-{ctx.name.rsplit('/', 1)[-1]}",
        name=name,
        agent_ids=sorted(_agent_ids(rng, ctx.count(3, 12))),
        health=health,
        flux_rate=round(rng.uniform(0.0, 5.0 * (0.2 + ctx.entropy)), 3),
        orchestration_state=state,
        breath_phase=round(rng.random(), 3),
    )


@WORLD_GENERATORS.register("polynomial_states")
async def polynomial_state(ctx: GenerationContext) -> PolynomialState:
    """A walk through the mode machine: every transition is allowed and chained."""
    rng = ctx.rng()
    mode = "idle"
    history: list[tuple[str, str]] = []
    for _ in range(ctx.count(2, 12)):
        nxt = rng.choice([m for m in MODES if m != mode])
        history.append((mode, nxt))
        mode = nxt
    body = json.dumps({"mode": mode, "history": history}, sort_keys=True).encode()
    return PolynomialState(
        current_mode=mode,
        valid_inputs=INPUTS_BY_MODE[mode],
        state_hash=hashlib.sha256(body).hexdigest()[:16],
        transition_history=history,
    )


def _timeline(rng: random.Random, ctx: GenerationContext, count: int) -> list[datetime]:
    start = EPOCH + timedelta(hours=ctx.seed % 8760)
    times, current = [], start
    for _ in range(count):
        current += timedelta(seconds=rng.randint(5, 90 + int(600 * ctx.entropy)))
        times.append(current)
    return times


@WORLD_GENERATORS.register("yield_turns")
async def yield_turns(ctx: GenerationContext) -> YieldTurnLog:
    rng = ctx.rng()
    count = int(ctx.params.get("turns", ctx.count(3, 12)))
    turns: list[YieldTurn] = []
    for index, when in enumerate(_timeline(rng, ctx, count)):
        turn_type = rng.choice(TURN_TYPES)
        decided = rng.random() < 0.8
        approved = rng.random() < 0.7 if decided else None
        reason = None
        if approved is False:
            reason = rng.choice(["touches a public API", "needs a test first", "too risky"])
        elif approved:
            reason = rng.choice(["looks right", "matches the plan", None])
        turns.append(
            YieldTurn(
                id=f"turn-{index + 1:03d}",
                content=f"{rng.choice(['May I', 'Shall I', 'I propose to'])} "
                f"{rng.choice(ACTIVITIES)}?",
                turn_type=turn_type,
                timestamp=when,
                is_approved=approved,
                reason=reason,
            )
        )
    return YieldTurnLog(turns)


@WORLD_GENERATORS.register("thought_streams")
async def thought_stream(ctx: GenerationContext) -> ThoughtStream:
    rng = ctx.rng()
    count = int(ctx.params.get("thoughts", ctx.count(5, 30)))
    sources = [f"{letter}-gent" for letter in rng.sample(AGENT_LETTERS, k=4)]
    thoughts: list[Thought] = []
    for when in _timeline(rng, ctx, count):
        template = rng.choice(THOUGHT_SEEDS)
        thoughts.append(
            Thought(
                content=template.format(pct=rng.randint(5, 95), n=rng.randint(2, 40)),
                source=rng.choice(sources),
                tags=sorted(rng.sample(THOUGHT_TAGS, k=rng.randint(1, 1 + round(2 * ctx.entropy)))),
                timestamp=when,
            )
        )
    return ThoughtStream(thoughts)
