// The EMS operator console, part 1 of 3: the admin API, the console's state, and formatting.
// Every view reads the admin API (/ems/admin/...) with the admin token, which stays in this
// tab's session storage. Server data is put in the page as text, never as HTML.
"use strict";

const TOKEN_KEY = "ems.console.token";
const PAGE_SIZE = 50;
const $ = (selector) => document.querySelector(selector);
const VIEWS = ["login", "overview", "queues", "queue", "topics", "topic"];

const state = {
  view: null,
  timer: null,
  previous: null, // the last overview reading, to turn counters into rates
  charts: null,
  table: { sort: "created", order: "asc", filter: "", offset: 0, total: 0 },
  queue: null, // the id hash of the queue shown
  peekNext: null,
  confirm: null,
  topicsNext: null,
  flash: "", // said once the next view shows
};

// ---- talking to the admin API ---------------------------------------------------------------

class Refused extends Error {}

async function api(method, path, params) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new Refused("sign in first");
  const query = params ? `?${new URLSearchParams(params)}` : "";
  const response = await fetch(`/ems/admin${path}${query}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    cache: "no-store",
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    show("login", null, "That token was refused: type the server's EMS_ADMIN_TOKEN.");
    throw new Refused("refused");
  }
  if (response.status === 204) return null;
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || body.title || `HTTP ${response.status}`);
  return body;
}

function notify(text) {
  $("#notice").textContent = text;
}

function failed(error) {
  if (!(error instanceof Refused)) notify(`Error: ${error.message}`);
}

// ---- formatting -------------------------------------------------------------------------------

function number(value) {
  return value == null ? "–" : Number(value).toLocaleString("en");
}

function rate(value) {
  return value ? (Math.round(value * 10) / 10).toLocaleString("en") : "0";
}

function age(seconds) {
  if (seconds == null) return "–";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

function bytes(value) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let amount = value;
  let unit = 0;
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024;
    unit += 1;
  }
  return `${unit ? amount.toFixed(1) : amount} ${units[unit]}`;
}

function shortHash(hash) {
  return hash ? `${hash.slice(0, 16)}…` : "–";
}

function cell(row, content, className) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function link(text, href) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

function facts(list, entries) {
  list.replaceChildren(
    ...entries.map(([name, value]) => {
      const pair = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      pair.append(dt, dd);
      return pair;
    })
  );
}

// a view refreshes itself while it is shown (and the tab is visible)
function every(seconds, view, load) {
  if (state.view !== view) return; // the operator moved on while this view was loading
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    if (state.view === view && !document.hidden) load();
    else if (state.view === view) every(seconds, view, load);
  }, seconds * 1000);
}

function button(text, run) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", () => run().catch(failed));
  return b;
}
