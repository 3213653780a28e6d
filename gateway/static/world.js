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

// The world agent's events name the sets a changed fixture belongs to and the revision
// it made; the page fetches only what it shows and has not seen.
onEvent((agentId, event) => {
  if (agentId !== "world" || typeof event.data.revision !== "number") return;
  if (event.data.revision <= world.revision) return;
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

function renderGrid(grid) {
  const box = document.getElementById("world-grid");
  const links = document.getElementById("world-links");
  box.style.aspectRatio = grid.width + " / " + (grid.height * 0.8);
  box.dataset.width = grid.width;
  box.dataset.height = grid.height;
  const cellW = 100 / grid.width, cellH = 100 / grid.height;
  const tiles = document.createDocumentFragment();
  const byId = new Map();
  for (const agent of grid.agents) {
    byId.set(agent.id, agent);
    const tile = document.createElement("div");
    const phase = PHASES.includes(agent.phase) ? agent.phase : "VOID";
    tile.className = "w-agent phase-" + phase + (agent.featured ? " featured" : "") +
      (agent.id === grid.focused_id ? " focused" : "");
    tile.dataset.agent = agent.id;
    tile.dataset.phase = phase;
    tile.dataset.x = agent.x;
    tile.dataset.y = agent.y;
    tile.style.left = (agent.x * cellW) + "%";
    tile.style.top = (agent.y * cellH) + "%";
    tile.style.width = cellW + "%";
    tile.style.height = cellH + "%";
    tile.title = agent.summary;
    const name = document.createElement("b");
    name.className = "w-name";
    name.textContent = (agent.featured ? "★ " : "") + (agent.id === grid.focused_id ? "◎ " : "") + agent.name;
    const label = document.createElement("span");
    label.className = "w-phase";
    label.textContent = phase;
    const bar = document.createElement("span");
    bar.className = "w-activity";
    bar.title = "activity " + Math.round(agent.activity * 100) + "%";
    const fill = document.createElement("i");
    fill.style.width = Math.round(agent.activity * 100) + "%";
    bar.appendChild(fill);
    tile.append(name, label, bar);
    if (agent.children.length) {
      const kids = document.createElement("small");
      kids.className = "w-children";
      kids.textContent = agent.children.length + (agent.children.length === 1 ? " child" : " children");
      tile.appendChild(kids);
    }
    tiles.appendChild(tile);
  }
  // Lines in a 0..width x 0..height box (one unit per cell), centre to centre.
  links.setAttribute("viewBox", "0 0 " + grid.width + " " + grid.height);
  const lines = document.createDocumentFragment();
  const line = (a, b, cls, opacity) => {
    const l = document.createElementNS(svgNS, "line");
    l.setAttribute("x1", a.x + 0.5); l.setAttribute("y1", a.y + 0.5);
    l.setAttribute("x2", b.x + 0.5); l.setAttribute("y2", b.y + 0.5);
    l.setAttribute("class", cls);
    if (opacity !== undefined) l.setAttribute("stroke-opacity", (0.25 + 0.75 * opacity).toFixed(2));
    l.dataset.from = a.id; l.dataset.to = b.id;
    lines.appendChild(l);
  };
  for (const agent of grid.agents) {
    for (const [peer, strength] of Object.entries(agent.connections)) {
      const other = byId.get(peer);
      if (other) line(agent, other, "link", strength);
    }
    for (const child of agent.children) {
      const other = byId.get(child);
      if (other) line(agent, other, "child");
    }
  }
  links.replaceChildren(lines);
  for (const old of box.querySelectorAll(".w-agent")) old.remove();
  box.appendChild(tiles);
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
