"""``kg world [FIXTURE_SET]``: the demo world in the terminal (Textual), hot-reloaded.

The same scene as the terrarium page's world view (``kgents_assets.hotdata.world_view``):
agents on the grid with their phase and activity, gardens, yield turns awaiting approval,
the mode machine and the latest thoughts. Edit a fixture file and the screen follows; a
broken file keeps the last good scene and shows the problem with its location; a deleted
one falls back to its generator's default, said on screen. ``n``/``p`` switch sets.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, RichLog, Static

from kgents_assets.hotdata.catalog import default_registry
from kgents_assets.hotdata.models import Phase
from kgents_assets.hotdata.watcher import FixtureWatcher
from kgents_assets.hotdata.world_view import (
    DEFAULT_SET,
    FixtureChange,
    GridView,
    WorldFixtures,
    WorldScene,
)

world_app = typer.Typer(help="The demo world of the HotData fixtures, live in the terminal.")
console = Console(stderr=True)

#: How each phase looks in a cell: (glyph, style). Distinct without colour too.
PHASE_LOOK: dict[Phase, tuple[str, str]] = {
    Phase.ACTIVE: ("●", "bold green"),
    Phase.WAKING: ("◐", "khaki1"),
    Phase.WANING: ("◑", "dark_orange"),
    Phase.DORMANT: ("○", "grey50"),
    Phase.VOID: ("·", "grey30 strike"),
}
CELL = 13  # characters per grid cell


def grid_text(grid: GridView) -> Text:
    """The grid as two text lines per row: names, then phase and activity."""
    cells = {(a.x, a.y): a for a in grid.agents}
    out = Text()
    for y in range(grid.height):
        names, states = Text(), Text()
        for x in range(grid.width):
            agent = cells.get((x, y))
            if agent is None:
                names.append("·".ljust(CELL), "grey23")
                states.append(" " * CELL)
                continue
            glyph, style = PHASE_LOOK[agent.phase]
            mark = "★" if agent.featured else ("◎" if agent.id == grid.focused_id else " ")
            names.append(f"{mark}{agent.name}"[: CELL - 1].ljust(CELL), style)
            bar = "▰" * round(agent.activity * 4)
            states.append(f"{glyph}{agent.phase.value} {bar}"[: CELL - 1].ljust(CELL), style)
        out.append_text(names)
        out.append("\n")
        out.append_text(states)
        out.append("\n")
    return out


def links_text(grid: GridView, limit: int = 12) -> Text:
    out = Text()
    shown = 0
    for agent in grid.agents:
        if not agent.children and not agent.connections:
            continue
        if shown == limit:
            out.append("…\n", "grey50")
            break
        shown += 1
        out.append(agent.name, "bold")
        if agent.children:
            out.append(" parent of " + ", ".join(agent.children))
        if agent.connections:
            links = ", ".join(f"{peer} {s:.1f}" for peer, s in agent.connections.items())
            out.append(" ~ " + links, "cyan")
        out.append("\n")
    return out


def side_text(scene: WorldScene) -> Text:
    out = Text()
    out.append("GARDENS\n", "bold underline")
    for g in scene.gardens:
        bar = "█" * round(g.health * 10) + "░" * (10 - round(g.health * 10))
        out.append(f"{g.name} ", "bold")
        out.append(bar, "green" if g.health >= 0.5 else "red")
        out.append(
            f"\n health {g.health:.2f} · flux {g.flux_rate:.2f}/s · {g.orchestration_state}"
            f" · breath {g.breath_phase:.2f} · {len(g.agent_ids)} agents\n"
        )
    out.append("\nYIELD TURNS AWAITING APPROVAL\n", "bold underline")
    for turn in scene.awaiting:
        out.append(f"[{turn.turn_type}] {turn.content}\n")
    out.append(f"({len(scene.awaiting)} waiting, {scene.decided_turns} decided)\n", "grey50")
    if scene.polynomial is not None:
        p = scene.polynomial
        out.append("\nMODE MACHINE\n", "bold underline")
        out.append(p.current_mode, "bold")
        out.append(f" accepts {', '.join(p.valid_inputs)}\n")
    out.append("\nLATEST THOUGHTS\n", "bold underline")
    for thought in scene.thoughts:
        out.append(f"{thought.source}: ", "bold")
        out.append(f"{thought.content}\n")
    return out


def problems_text(scene: WorldScene) -> Text:
    out = Text()
    for source in scene.problems:
        keeping = "keeping the last good scene" if source.origin == "file" else "generator default"
        out.append(f"{source.fixture}.json is invalid — {keeping}\n", "bold red")
        for issue in source.issues:
            out.append(f"  {issue.location}", "bold")
            out.append(f": {issue.message}\n")
    for notice in scene.notices:
        out.append(notice + "\n", "yellow")
    return out


class WorldApp(App[None]):
    """The world of one fixture set; ``watch`` reloads fixtures as their files change."""

    TITLE = "kgents demo world"
    CSS = """
    #meta { height: 1; color: $text-muted; }
    #problems { height: auto; max-height: 10; }
    #body { height: 1fr; }
    #grid-box { width: auto; height: 1fr; }
    #grid, #links { width: auto; }
    #side { width: 1fr; padding: 0 1; }
    #events { height: 8; border-top: solid $panel; }
    """
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("n", "next_set", "next set"),
        Binding("p", "previous_set", "previous set"),
    ]

    def __init__(self, world: WorldFixtures, set_name: str = DEFAULT_SET, *, watch: bool = True):
        super().__init__()
        world.require_set(set_name)
        self.world = world
        self.set_name = set_name
        self.watch_files = watch
        self.scene: WorldScene | None = None
        self.watching = asyncio.Event()  # set once the watcher is in place (tests wait on it)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="meta")
        yield Static(id="problems")
        with Horizontal(id="body"):
            with Vertical(id="grid-box"):
                yield Static(id="grid")
                yield Static(id="links")
            yield Static(id="side")
        yield RichLog(id="events", wrap=True, markup=False)
        yield Footer()

    async def on_mount(self) -> None:
        changes = await self.world.load_all()
        log = self.query_one("#events", RichLog)
        for change in changes:
            if change.change in ("invalid", "missing"):
                log.write(change.event_data()["summary"])
        self.redraw()
        if self.watch_files:
            self.run_worker(self._watch(), exclusive=True, group="watch")

    async def _watch(self) -> None:
        watcher = FixtureWatcher(self.world.registry, debounce_ms=30)
        changes = watcher.changes()
        # The first step of the generator installs the OS watch; say so only after it.
        first = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0)
        self.watching.set()
        names = await first
        while True:
            for name in sorted(names):
                if name in self.world:
                    self.applied(await self.world.reload(name))
            names = await anext(changes)

    def applied(self, change: FixtureChange) -> None:
        if change.change == "unchanged":
            return
        self.query_one("#events", RichLog).write(change.event_data()["summary"])
        if self.set_name in change.sets:
            self.redraw()

    def redraw(self) -> None:
        scene = self.scene = self.world.scene(self.set_name)
        self.sub_title = f"set {scene.set}"
        sources = ", ".join(
            s.fixture + ("" if s.origin == "file" else f" ({s.origin})") for s in scene.sources
        )
        watching = " · hot reload on" if self.watch_files else ""
        self.query_one("#meta", Static).update(
            f"set {scene.set} · revision {scene.revision}{watching} · {sources}"
        )
        problems = self.query_one("#problems", Static)
        problems.update(problems_text(scene))
        problems.display = bool(scene.problems or scene.notices)
        self.query_one("#grid", Static).update(grid_text(scene.grid))
        self.query_one("#links", Static).update(links_text(scene.grid))
        self.query_one("#side", Static).update(side_text(scene))

    def _step_set(self, step: int) -> None:
        names = list(self.world.sets)
        self.set_name = names[(names.index(self.set_name) + step) % len(names)]
        self.redraw()

    def action_next_set(self) -> None:
        self._step_set(1)

    def action_previous_set(self) -> None:
        self._step_set(-1)


@world_app.command()
def world(
    fixture_set: Annotated[
        str, typer.Argument(help="fixture set to show (a fixture variant name, e.g. crowded)")
    ] = DEFAULT_SET,
    fixtures: Annotated[
        Path | None,
        typer.Option(help="fixtures directory (default $KGENTS_FIXTURES_DIR or fixtures/)"),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch/--no-watch", help="reload fixtures as their files change")
    ] = True,
) -> None:
    """Show the demo world of FIXTURE_SET; edit a fixture file and watch it change."""
    from kgents_assets.hotdata.paths import default_fixtures_dir

    world_fixtures = WorldFixtures(default_registry(default_fixtures_dir(fixtures)))
    if fixture_set not in world_fixtures.sets:
        console.print(
            f"[red]unknown fixture set {fixture_set!r}[/red]; known sets: "
            + ", ".join(world_fixtures.sets)
        )
        raise typer.Exit(2)
    WorldApp(world_fixtures, fixture_set, watch=watch).run()
