// kgents terrarium widget: plain JS, no build step.
// One /observe websocket per agent; each message holds newline-separated JSON events.
// On a drop it reconnects with ?since=<last seq> (backoff), so nothing is missed.
"use strict";

const MAX_ROWS = 200;
const agents = new Map(); // id -> {summary, lastSeq, epoch, list, socket, retry}
const tokenKey = "kgents.gateway.token";

function token() { return sessionStorage.getItem(tokenKey) || ""; }
(function readTokenFromFragment() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(tokenKey, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
})();
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("token");
  sessionStorage.setItem(tokenKey, input.value.trim());
  input.value = "";
  setStatus("token set");
});

function setStatus(text, cls) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = cls || "muted";
}

function wsUrl(path) {
  // A browser cannot set headers on a websocket: a read token travels as ?token=.
  const sep = path.includes("?") ? "&" : "?";
  const auth = token() ? sep + "token=" + encodeURIComponent(token()) : "";
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path + auth;
}

// fetch with the token (if any) as a bearer: a gateway with a read token wants it.
function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token() && !headers.Authorization) headers.Authorization = "Bearer " + token();
  return fetch(path, Object.assign({}, options, { headers }));
}

// Hooks other scripts (world.js) register to see every event of every stream.
const eventListeners = [];
function onEvent(listener) { eventListeners.push(listener); }

async function loadAgents() {
  const response = await api("/api/agents");
  const list = await response.json();
  for (const summary of list) {
    if (!agents.has(summary.id)) {
      const entry = { summary, lastSeq: null, epoch: null, socket: null, retry: 0, list: null };
      agents.set(summary.id, entry);
      makeStream(entry);
      connect(summary.id);
    }
  }
  renderAgents();
  refreshSemaphores();
}

function makeStream(entry) {
  const box = document.createElement("div");
  box.className = "stream";
  box.id = "stream-" + entry.summary.id;
  box.innerHTML = "<h2></h2><ol></ol>";
  box.querySelector("h2").textContent = entry.summary.id;
  document.getElementById("streams").appendChild(box);
  entry.list = box.querySelector("ol");
}

function connect(id) {
  const entry = agents.get(id);
  const since = entry.lastSeq === null ? "" : "?since=" + entry.lastSeq;
  const socket = new WebSocket(wsUrl("/observe/" + encodeURIComponent(id) + since));
  entry.socket = socket;
  socket.onopen = () => { entry.retry = 0; setStatus("live", "ok"); };
  socket.onmessage = (message) => {
    for (const line of message.data.split("\n")) {
      if (line) handle(entry, JSON.parse(line));
    }
  };
  socket.onclose = (close) => {
    if (close.code === 4404) return; // the agent is gone; do not retry
    entry.retry = Math.min(entry.retry + 1, 6);
    setStatus("reconnecting " + id + " (" + close.code + ")", "bad");
    setTimeout(() => connect(id), 250 * 2 ** entry.retry);
  };
}

function handle(entry, event) {
  if (event.type === "hello") {
    if (entry.epoch !== null && entry.epoch !== event.epoch) {
      entry.list.replaceChildren(); // the gateway restarted: sequence numbers began anew
    }
    entry.epoch = event.epoch;
    return;
  }
  entry.lastSeq = event.seq;
  Object.assign(entry.summary, {
    state: event.state, pressure: event.pressure, flow: event.flow,
    temperature: event.temperature, head_seq: event.seq,
  });
  entry.list.prepend(eventRow(event));
  while (entry.list.childElementCount > MAX_ROWS) entry.list.lastElementChild.remove();
  // a test the hub proposes parks its semaphore from another process: the hub says so
  if (event.type.startsWith("semaphore_") || event.type === "test_proposed") refreshSemaphores();
  for (const listener of eventListeners) listener(entry.summary.id, event);
  scheduleRender();
}

// One event: its sentence first (made by the gateway, kgents_assets/sentences.py); the
// raw JSON is one click on {} away.
function eventRow(event) {
  const row = document.createElement("li");
  row.dataset.seq = event.seq;
  row.dataset.type = event.type;
  const time = document.createElement("span");
  time.className = "when muted";
  time.textContent = new Date(event.timestamp * 1000).toLocaleTimeString();
  const say = document.createElement("span");
  say.className = "say";
  const summary = event.data && typeof event.data.summary === "string" ? event.data.summary : null;
  say.textContent = summary || event.type.replace(/_/g, " ");
  say.title = event.type + " #" + event.seq;
  const toggle = document.createElement("button");
  toggle.className = "raw-toggle";
  toggle.type = "button";
  toggle.textContent = "{}";
  toggle.title = "raw JSON";
  const raw = document.createElement("pre");
  raw.className = "raw";
  raw.hidden = true;
  toggle.onclick = () => {
    if (!raw.textContent) raw.textContent = JSON.stringify(event, null, 2);
    raw.hidden = !raw.hidden;
    toggle.classList.toggle("open", !raw.hidden);
  };
  row.append(time, " ", say, " ", toggle, raw);
  return row;
}

let renderPending = false;
function scheduleRender() {
  if (!renderPending) {
    renderPending = true;
    requestAnimationFrame(() => { renderPending = false; renderAgents(); });
  }
}

function renderAgents() {
  const body = document.querySelector("#agents tbody");
  body.replaceChildren();
  for (const { summary } of agents.values()) {
    const tr = document.createElement("tr");
    tr.id = "agent-" + summary.id;
    for (const value of [summary.id, summary.state, summary.pressure.toFixed(2),
      summary.flow.toFixed(2), summary.temperature.toFixed(2), summary.head_seq]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  drawField();
}

// The density field: one cell per agent. Brightness = flow, hue = temperature
// (blue cold -> red hot), the ring's thickness = pressure.
function drawField() {
  const canvas = document.getElementById("field");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const list = [...agents.values()];
  const cell = canvas.width / Math.max(list.length, 1);
  list.forEach(({ summary }, i) => {
    const cx = cell * i + cell / 2, cy = canvas.height / 2;
    const radius = 20 + Math.min(80, 30 * Math.log1p(summary.flow * 10));
    const hue = 220 - 220 * summary.temperature;
    const glow = ctx.createRadialGradient(cx, cy, 2, cx, cy, radius);
    glow.addColorStop(0, `hsla(${hue}, 80%, 60%, 0.95)`);
    glow.addColorStop(1, `hsla(${hue}, 80%, 30%, 0)`);
    ctx.fillStyle = glow;
    ctx.beginPath(); ctx.arc(cx, cy, radius, 0, 2 * Math.PI); ctx.fill();
    ctx.strokeStyle = "#ebcb8b";
    ctx.lineWidth = 1 + 12 * summary.pressure;
    ctx.beginPath(); ctx.arc(cx, cy, radius * 0.6, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#d8dee9"; ctx.textAlign = "center";
    ctx.fillText(summary.id + " · " + summary.state, cx, canvas.height - 12);
  });
}

let semaphoreRefresh = null;
function refreshSemaphores() {
  clearTimeout(semaphoreRefresh); // coalesce bursts of semaphore events
  semaphoreRefresh = setTimeout(loadSemaphores, 50);
}

async function loadSemaphores() {
  const pending = [];
  for (const id of agents.keys()) {
    const response = await api("/api/purgatory/" + encodeURIComponent(id) + "/pending");
    if (response.ok) pending.push(...await response.json());
  }
  const list = document.getElementById("semaphores");
  list.replaceChildren();
  if (!pending.length) {
    list.innerHTML = '<li class="muted">none</li>';
    return;
  }
  for (const token of pending) {
    const li = document.createElement("li");
    li.id = token.id;
    li.className = "semaphore";
    const text = document.createElement("div");
    text.textContent = `[${token.severity}] ${token.agent_id}: ${token.prompt} — ${token.reason}`;
    li.appendChild(text);
    const proposal = proposedTest(token);
    if (proposal) li.appendChild(proposal);
    for (const option of token.options) {
      const button = document.createElement("button");
      button.textContent = option;
      button.className = option === "approve" ? "approve" : option === "reject" ? "reject" : "";
      button.dataset.action = option;
      button.onclick = () => resolve(token, option);
      li.appendChild(button);
    }
    list.appendChild(li);
  }
}

// A test the hub wrote (demo 3, trust 2): the file it would add and its text, to read
// before approving.
function proposedTest(token) {
  const context = token.context || {};
  if (context.kind !== "hub_test_creation" || typeof context.skeleton !== "string") return null;
  const details = document.createElement("details");
  details.className = "proposed-test";
  const summary = document.createElement("summary");
  summary.textContent = `${context.repo}: ${(context.writes || []).join(", ")}`;
  const code = document.createElement("pre");
  code.textContent = context.skeleton;
  details.append(summary, code);
  return details;
}

async function resolve(sem, option) {
  const response = await api(
    `/api/purgatory/${encodeURIComponent(sem.agent_id)}/resolve/${encodeURIComponent(sem.id)}`,
    {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token() },
      body: JSON.stringify({ input: option }),
    });
  if (!response.ok) {
    setStatus("resolve failed: " + response.status + " " + (await response.text()), "bad");
  } else {
    setStatus("resolved " + sem.id + ": " + option, "ok");
  }
  refreshSemaphores();
}

loadAgents().catch((err) => setStatus("cannot load agents: " + err, "bad"));
