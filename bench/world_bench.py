"""The demo world's hot reload and the page's cost, in real Chromium.

1. edit -> page latency: `kg gateway --dev` on a copy of the fixtures; an agent's phase is
   rewritten in flux_states/demo.json and the clock stops when the page's tile shows the
   new phase (watchfiles -> reload -> world event -> fetch -> render). p50 over N edits.
2. frame cost with 200 agents: the demo grid replaced by 200 agents (20 x 10, two or three
   connections each, children on a few); the page's render of the scene is timed with
   performance.now() (DOM build + forced style/layout), and to the second animation frame
   after it (what the user waits for).

    uv run python bench/world_bench.py [--edits 10] [--renders 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PHASES = ["ACTIVE", "WAKING", "WANING", "DORMANT", "VOID"]


def chromium() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        sys.exit("needs chromium (apt install chromium)")
    return found


def start_gateway(fixtures: Path, home: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "KGENTS_HOME": str(home),
        "KGENTS_FIXTURES_DIR": str(fixtures),
        "KGENTS_GATEWAY_TOKEN": "bench",
    }
    env.pop("KGENTS_DATABASE_URL", None)  # the embedded server under KGENTS_HOME
    kg = Path(sys.executable).parent / "kg"
    args = ["gateway", "--dev", "--no-dagster", "--port", str(port), "--repo", str(home)]
    process = subprocess.Popen(
        [str(kg), *args, "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/world/sets", timeout=2).is_success:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(
                "gateway did not start:\n" + (process.stdout.read() if process.stdout else "")
            )
        time.sleep(0.1)


def crowd(count: int, width: int, height: int, seed: int = 7) -> dict[str, object]:
    rng = random.Random(seed)
    ids = [f"a{i:03d}-gent" for i in range(count)]
    cells = rng.sample([(x, y) for x in range(width) for y in range(height)], count)
    agents = {}
    for i, (agent_id, (x, y)) in enumerate(zip(ids, cells, strict=True)):
        peers = rng.sample([p for p in ids if p != agent_id], rng.randint(2, 3))
        agents[agent_id] = {
            "id": agent_id,
            "name": f"A{i:03d}",
            "phase": PHASES[i % 5],
            "activity": round(rng.random(), 2),
            "children": rng.sample(ids, 2) if i % 20 == 0 else [],
            "summary": "bench agent",
            "grid_x": x,
            "grid_y": y,
            "connections": {p: round(rng.uniform(0.1, 1), 2) for p in peers},
        }
    return {"agents": agents, "focused_id": ids[0], "grid_width": width, "grid_height": height}


RENDER_JS = """async (n) => {
  const scene = await (await fetch('/api/world?set=demo')).json();
  const phases = ['ACTIVE', 'WAKING', 'WANING', 'DORMANT', 'VOID'];
  const out = {cold: [], coldFrame: [], one: [], oneFrame: [], idleFrame: []};
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (let i = 0; i < n; i++) {
    // cold: every tile built anew (first paint, switching sets)
    for (const tile of tiles.values()) tile.el.remove();
    tiles.clear();
    linksKey = '';
    let t0 = performance.now();
    renderWorld(scene);
    document.body.offsetHeight;  // style + layout now, inside the measurement
    out.cold.push(performance.now() - t0);
    await frame();
    out.coldFrame.push(performance.now() - t0);
    // one agent changed (the hot-reload case): one tile rewritten, the lines redrawn
    const agent = scene.grid.agents[i % scene.grid.agents.length];
    agent.phase = phases[(phases.indexOf(agent.phase) + 1) % 5];
    t0 = performance.now();
    renderWorld(scene);
    document.body.offsetHeight;
    out.one.push(performance.now() - t0);
    await frame();
    out.oneFrame.push(performance.now() - t0);
    // the same two frames with nothing to draw: what the machine's frame rate costs anyway
    t0 = performance.now();
    await frame();
    out.idleFrame.push(performance.now() - t0);
  }
  return {...out, agents: document.querySelectorAll('.w-agent').length,
          lines: document.querySelectorAll('#world-links line').length};
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--renders", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="world-bench-"))
    fixtures = work / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    demo = fixtures / "flux_states" / "demo.json"
    data = json.loads(demo.read_text())
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = start_gateway(fixtures, work / "home", port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"], headless=True
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"http://127.0.0.1:{port}/?world=demo")
            page.wait_for_selector('.w-agent[data-agent="e-gent"]')
            latencies = []
            for i in range(args.edits):
                phase = PHASES[(i + 1) % 5] if PHASES[(i + 1) % 5] != "ACTIVE" else "WAKING"
                phase = phase if data["agents"]["e-gent"]["phase"] != phase else "DORMANT"
                data["agents"]["e-gent"]["phase"] = phase
                started = time.perf_counter()
                demo.write_text(json.dumps(data, indent=2))
                page.wait_for_selector(f'.w-agent[data-agent="e-gent"][data-phase="{phase}"]')
                latencies.append((time.perf_counter() - started) * 1000)

            demo.write_text(json.dumps(crowd(200, 20, 10), indent=2))
            page.wait_for_function("document.querySelectorAll('.w-agent').length >= 200")
            measured = page.evaluate(RENDER_JS, args.renders)
            page.screenshot(path=str(work / "200-agents.png"), full_page=True)
            browser.close()
    finally:
        process.terminate()
        process.communicate(timeout=30)

    def p(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))]

    print(
        f"edit -> page ({args.edits} edits): p50 {statistics.median(latencies):.0f} ms, "
        f"max {max(latencies):.0f} ms  [{', '.join(f'{v:.0f}' for v in latencies)}]"
    )
    print(
        f"200 agents ({measured['agents']} tiles, {measured['lines']} lines), {args.renders} renders each:"
    )
    for label, key in (("cold render (all tiles new)", "cold"), ("one agent changed", "one")):
        print(
            f"  {label}: render+layout p50 {statistics.median(measured[key]):.1f} ms "
            f"(p90 {p(measured[key], 0.9):.1f}), to the 2nd frame p50 "
            f"{statistics.median(measured[key + 'Frame']):.1f} ms"
        )
    print(
        f"  two frames with nothing changed (the baseline): p50 "
        f"{statistics.median(measured['idleFrame']):.1f} ms"
    )
    print(f"screenshot: {work / '200-agents.png'}")


if __name__ == "__main__":
    main()
