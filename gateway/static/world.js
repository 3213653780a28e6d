// The demo world: one fixture set's scene (GET /api/world?set=NAME), redrawn when the
// `world` agent's stream says a fixture of that set changed. Nothing polls: the stream
// pushes, the page fetches the one scene it shows, once per revision.
"use strict";

const world = {
  set: new URLSearchParams(location.search).get("world") || "demo",
  revision: -1,
  loading: null,
  again: false,
  renderMs: [], // the cost of each render, for bench/world_bench.py
};
window.kgWorld = world;

const svgNS = "http://www.w3.org/2000/svg";

async function loadSets() {
  const response = await api("/api/world/sets");
  if (!response.ok) {
    document.getElementById("world-meta").textContent =
      "no demo world: " + response.status + " " + (await response.text());
    return;
  }
  const body = await response.json();
  const select = document.getElementById("world-set");
  select.replaceChildren();
  for (const set of body.sets) {
    const option = document.createElement("option");
    option.value = set.name;
    option.textContent = set.name + (set.own.length ? "" : " (defaults)");
    option.title = Object.values(set.fixtures).join(", ");
    select.appendChild(option);
  }
  if (!body.sets.some((s) => s.name === world.set)) {
    showMeta("unknown fixture set " + JSON.stringify(world.set) + "; showing " + body.default, "bad");
    world.set = body.default;
  }
  select.value = world.set;
  select.onchange = () => {
    world.set = select.value;
    world.revision = -1;
    const url = new URL(location.href);
    url.searchParams.set("world", world.set);
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    loadScene();
  };
}

// One fetch at a time; a change during a fetch asks for one more afterwards.
async function loadScene() {
  if (world.loading) { world.again = true; return world.loading; }
  world.loading = (async () => {
    do {
      world.again = false;
      const response = await api("/api/world?set=" + encodeURIComponent(world.set));
      if (!response.ok) {
        showMeta("cannot load set " + world.set + ": " + (await response.text()), "bad");
        break;
      }
      const scene = await response.json();
      if (scene.set === world.set) renderWorld(scene);
    } while (world.again);
  })().finally(() => { world.loading = null; });
  return world.loading;
}

function showMeta(text, cls) {
  const meta = document.getElementById("world-meta");
  meta.textContent = text;
  meta.className = cls || "muted";
}

// The world agent's events name the sets a changed fixture belongs to; the page fetches
// the scene it shows when one of them is its set. (Revisions are counted per gateway
// process, so with replicas they are shown, not compared; fetches never overlap.)
onEvent((agentId, event) => {
  if (agentId !== "world" || (!event.type.startsWith("fixture_") && event.type !== "world_loaded")) return;
  if (Array.isArray(event.data.sets) && !event.data.sets.includes(world.set)) return;
  loadScene();
});

function renderWorld(scene) {
  const started = performance.now();
  world.revision = scene.revision;
  const section = document.getElementById("world-section");
  section.dataset.revision = scene.revision;
  section.dataset.set = scene.set;
  renderProblems(scene);
  renderGrid(scene.grid);
  renderSide(scene);
  const origin = scene.sources.map((s) => s.fixture + (s.origin === "file" ? "" : " (" + s.origin + ")"));
  showMeta("set " + scene.set + " · revision " + scene.revision + (scene.dev ? " · hot reload on" : "") +
    " · " + origin.join(", "));
  world.renderMs.push(performance.now() - started);
  if (world.renderMs.length > 100) world.renderMs.shift();
}

function renderProblems(scene) {
  const problems = document.getElementById("world-problems");
  problems.replaceChildren();
  for (const source of scene.problems) {
    const li = document.createElement("li");
    li.dataset.fixture = source.fixture;
    const head = document.createElement("b");
    head.textContent = source.fixture + ".json is invalid — " +
      (source.origin === "file" ? "keeping the last good scene" : "showing the generator's default scene");
    li.appendChild(head);
    const list = document.createElement("ul");
    for (const issue of source.issues) {
      const item = document.createElement("li");
      item.className = "issue";
      const where = document.createElement("code");
      where.className = "location";
      where.textContent = issue.location;
      item.append(where, ": " + issue.message);
      list.appendChild(item);
    }
    li.appendChild(list);
    problems.appendChild(li);
  }
  problems.hidden = scene.problems.length === 0;
  const notices = document.getElementById("world-notices");
  notices.replaceChildren();
  for (const text of scene.notices) {
    const li = document.createElement("li");
    li.textContent = text;
    notices.appendChild(li);
  }
  notices.hidden = scene.notices.length === 0;
}

const PHASES = ["ACTIVE", "WAKING", "WANING", "DORMANT", "VOID"];

// Tiles are kept by agent id and updated in place: a hot reload usually changes one agent,
// and an untouched tile costs no DOM write and no relayout (200 agents: see world_bench).
const tiles = new Map(); // agent id -> {el, name, label, fill, kids, key}

function makeTile() {
  const el = document.createElement("div");
  const name = document.createElement("b");
  name.className = "w-name";
  const label = document.createElement("span");
  label.className = "w-phase";
  const bar = document.createElement("span");
  bar.className = "w-activity";
  const fill = document.createElement("i");
  bar.appendChild(fill);
  const kids = document.createElement("small");
  kids.className = "w-children";
  el.append(name, label, bar, kids);
  return { el, name, label, bar, fill, kids, key: "" };
}

function renderGrid(grid) {
  const box = document.getElementById("world-grid");
  box.style.aspectRatio = grid.width + " / " + (grid.height * 0.8);
  box.style.setProperty("--cols", grid.width);
  box.classList.toggle("dense", grid.width > 12 || grid.height > 9);
  box.dataset.width = grid.width;
  box.dataset.height = grid.height;
  const cellW = 100 / grid.width, cellH = 100 / grid.height;
  const byId = new Map();
  const fresh = document.createDocumentFragment();
  for (const agent of grid.agents) {
    byId.set(agent.id, agent);
    const phase = PHASES.includes(agent.phase) ? agent.phase : "VOID";
    const focused = agent.id === grid.focused_id;
    const key = [phase, agent.x, agent.y, grid.width, grid.height, agent.name, agent.activity,
      agent.children.length, agent.featured, focused, agent.summary].join("|");
    let tile = tiles.get(agent.id);
    if (!tile) {
      tile = makeTile();
      tile.el.dataset.agent = agent.id;
      tiles.set(agent.id, tile);
      fresh.appendChild(tile.el);
    }
    if (tile.key === key) continue;
    tile.key = key;
    const el = tile.el;
    el.className = "w-agent phase-" + phase + (agent.featured ? " featured" : "") + (focused ? " focused" : "");
    el.dataset.phase = phase;
    el.dataset.x = agent.x;
    el.dataset.y = agent.y;
    el.style.left = (agent.x * cellW) + "%";
    el.style.top = (agent.y * cellH) + "%";
    el.style.width = cellW + "%";
    el.style.height = cellH + "%";
    el.title = agent.name + " · " + phase + " · activity " + Math.round(agent.activity * 100) + "% — " + agent.summary;
    tile.name.textContent = (agent.featured ? "★ " : "") + (focused ? "◎ " : "") + agent.name;
    tile.label.textContent = phase;
    tile.bar.title = "activity " + Math.round(agent.activity * 100) + "%";
    tile.fill.style.width = Math.round(agent.activity * 100) + "%";
    const n = agent.children.length;
    tile.kids.textContent = n ? n + (n === 1 ? " child" : " children") : "";
  }
  for (const [id, tile] of tiles) {
    if (!byId.has(id)) { tile.el.remove(); tiles.delete(id); }
  }
  box.appendChild(fresh);
  renderLinks(grid, byId);
}

// Lines in a 0..width x 0..height box (one unit per cell), centre to centre; redrawn only
// when some line moved (a phase change leaves them, and their paint, alone).
let linksKey = "";
function renderLinks(grid, byId) {
  const specs = [];
  for (const agent of grid.agents) {
    for (const [peer, strength] of Object.entries(agent.connections)) {
      const other = byId.get(peer);
      if (other) specs.push([agent, other, "link", (0.25 + 0.75 * strength).toFixed(2)]);
    }
    for (const child of agent.children) {
      const other = byId.get(child);
      if (other) specs.push([agent, other, "child", ""]);
    }
  }
  const key = grid.width + "x" + grid.height + ";" +
    specs.map(([a, b, cls, o]) => a.x + "," + a.y + "," + b.x + "," + b.y + cls + o).join(";");
  if (key === linksKey) return;
  linksKey = key;
  const links = document.getElementById("world-links");
  links.setAttribute("viewBox", "0 0 " + grid.width + " " + grid.height);
  const lines = document.createDocumentFragment();
  for (const [a, b, cls, opacity] of specs) {
    const l = document.createElementNS(svgNS, "line");
    l.setAttribute("x1", a.x + 0.5); l.setAttribute("y1", a.y + 0.5);
    l.setAttribute("x2", b.x + 0.5); l.setAttribute("y2", b.y + 0.5);
    l.setAttribute("class", cls);
    if (opacity) l.setAttribute("stroke-opacity", opacity);
    lines.appendChild(l);
  }
  links.replaceChildren(lines);
}

function renderSide(scene) {
  const gardens = document.getElementById("world-gardens");
  gardens.replaceChildren();
  for (const garden of scene.gardens) {
    const li = document.createElement("li");
    li.dataset.garden = garden.id;
    li.className = "garden state-" + garden.orchestration_state;
    const title = document.createElement("b");
    title.textContent = garden.name;
    const health = document.createElement("span");
    health.className = "meter";
    health.title = "health " + garden.health;
    const fill = document.createElement("i");
    fill.style.width = Math.round(garden.health * 100) + "%";
    fill.style.background = `hsl(${Math.round(120 * garden.health)}, 55%, 45%)`;
    health.appendChild(fill);
    const facts = document.createElement("div");
    facts.className = "facts";
    facts.textContent = "health " + garden.health.toFixed(2) + " · flux " + garden.flux_rate.toFixed(2) +
      "/s · " + garden.orchestration_state + " · breath " + garden.breath_phase.toFixed(2) +
      " · " + garden.agent_ids.length + " agents";
    const breath = document.createElement("span");
    breath.className = "breath";
    breath.style.transform = "scale(" + (0.5 + 0.5 * Math.sin(Math.PI * garden.breath_phase)).toFixed(2) + ")";
    li.append(breath, title, " ", health, facts);
    gardens.appendChild(li);
  }
  if (!scene.gardens.length) gardens.innerHTML = '<li class="muted">no garden</li>';

  const turns = document.getElementById("world-turns");
  turns.replaceChildren();
  for (const turn of scene.awaiting) {
    const li = document.createElement("li");
    li.dataset.turn = turn.id;
    li.textContent = "[" + turn.turn_type + "] " + turn.content;
    turns.appendChild(li);
  }
  const decided = document.createElement("li");
  decided.className = "muted";
  decided.textContent = (scene.awaiting.length ? "" : "none waiting; ") + scene.decided_turns + " decided";
  turns.appendChild(decided);

  const mode = document.getElementById("world-mode");
  mode.replaceChildren();
  if (scene.polynomial) {
    const p = scene.polynomial;
    const now = document.createElement("b");
    now.textContent = p.current_mode;
    const inputs = document.createElement("span");
    inputs.className = "muted";
    inputs.textContent = " accepts " + p.valid_inputs.join(", ") + " · history " +
      p.transition_history.map((t) => t[0] + "→" + t[1]).slice(-4).join(" ");
    mode.append(now, inputs);
  }

  const thoughts = document.getElementById("world-thoughts");
  thoughts.replaceChildren();
  for (const thought of scene.thoughts) {
    const li = document.createElement("li");
    const who = document.createElement("b");
    who.textContent = thought.source + ": ";
    const tags = document.createElement("span");
    tags.className = "muted";
    tags.textContent = " #" + thought.tags.join(" #");
    li.append(who, thought.content, tags);
    thoughts.appendChild(li);
  }
}

loadSets().then(loadScene).catch((err) => showMeta("cannot load the demo world: " + err, "bad"));
