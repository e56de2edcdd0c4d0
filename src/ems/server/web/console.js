// The EMS operator console: every view is the admin API (/ems/admin/...) read with the admin
// token, which stays in this tab's session storage. Queues and topics appear by the hash of
// their ids: the server has no ids to show. Server data is put in the page as text, never HTML.
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

// ---- views ------------------------------------------------------------------------------------

function show(view, argument, message) {
  clearTimeout(state.timer);
  state.view = view;
  for (const name of VIEWS) $(`#${name}`).hidden = name !== view;
  $("#nav").hidden = view === "login";
  notify(state.flash);
  state.flash = "";
  if (view === "login") {
    $("#login-error").textContent = message || "";
    $("#login-form input").focus();
    return;
  }
  const loaders = { overview, queues, queue, topics, topic };
  loaders[view](argument);
}

function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return show("login");
  const [view, argument] = window.location.hash.slice(1).split("/");
  show(VIEWS.includes(view) && view !== "login" ? view : "overview", argument);
}

function every(seconds, view, load) {
  if (state.view !== view) return; // the operator moved on while this view was loading
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    if (state.view === view && !document.hidden) load();
    else if (state.view === view) every(seconds, view, load);
  }, seconds * 1000);
}

// overview: facts, live charts (rates from two readings of the counters), errors by type
async function overview() {
  if (!state.charts) {
    const chart = (name, series) =>
      new Charts.LineChart(document.querySelector(`[data-chart="${name}"]`), series);
    state.charts = {
      requests: chart("requests", ["requests/s"]),
      messages: chart("messages", ["sent/s", "received/s"]),
      batch: chart("batch", ["operations/commit"]),
      latency: chart("latency", ["ms/commit"]),
    };
  }
  try {
    const now = await api("GET", "/overview");
    const totals = now.totals;
    facts($("#facts"), [
      ["Version", now.version],
      ["Backend", now.backend],
      ["This node", now.node],
      ["Database", now.database],
      ["Up for", age(Math.round(now.uptime_seconds))],
      ["Storage", bytes(now.storage_bytes)],
      ["Queues", number(totals.queues)],
      ["Messages stored", `${number(totals.stored_messages)} (${bytes(totals.stored_bytes)})`],
      ["Oldest message", age(totals.oldest_message_age_seconds)],
      ["Topics", number(totals.topics)],
      ["Subscriptions", number(totals.subscriptions)],
      ["Pending confirmations", number(totals.pending_confirmations)],
      ["Webhook backlog", number(totals.webhook_backlog)],
      ["Failing webhooks", number(totals.failing_subscriptions)],
      ["Long polls waiting", number(now.long_polls_waiting)],
    ]);
    chartRates(now);
  } catch (error) {
    failed(error);
  }
  every(2, "overview", overview);
}

function chartRates(now) {
  const before = state.previous;
  state.previous = { reading: now, at: performance.now() };
  const is = now.counters;
  problemTable(is.problems, before);
  if (!before) return;
  const seconds = (state.previous.at - before.at) / 1000;
  const was = before.reading.counters;
  const per = (a, b) => (seconds > 0 ? (a - b) / seconds : 0);
  const commits = is.commits - was.commits;
  state.charts.requests.add([per(is.requests, was.requests)]);
  state.charts.messages.add([
    per(is.messages.sent, was.messages.sent),
    per(is.messages.received, was.messages.received),
  ]);
  state.charts.batch.add([commits ? (is.committed_operations - was.committed_operations) / commits : 0]);
  state.charts.latency.add([commits ? ((is.commit_seconds - was.commit_seconds) / commits) * 1000 : 0]);
}

// errors by problem type: totals since the node started, and the rate since the last reading
function problemTable(problems, before) {
  const seconds = before ? (state.previous.at - before.at) / 1000 : 0;
  const previous = before ? before.reading.counters.problems : null;
  const rows = Object.entries(problems).map(([type, count]) => {
    const row = document.createElement("tr");
    cell(row, type);
    cell(row, number(count), "num");
    const since = previous && seconds > 0 ? (count - (previous[type] || 0)) / seconds : null;
    cell(row, since == null ? "–" : rate(since), "num");
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    cell(row, "No errors since this node started.").colSpan = 3;
    rows.push(row);
  }
  $("#problems tbody").replaceChildren(...rows);
}

// queues: one page of the server-side sorted, filtered table
async function queues() {
  const table = state.table;
  try {
    const page = await api("GET", "/queue-table", {
      sort: table.sort,
      order: table.order,
      filter: table.filter,
      offset: table.offset,
      limit: PAGE_SIZE,
    });
    table.total = page.total;
    showSort();
    $("#queue-table tbody").replaceChildren(...page.queues.map(queueRow));
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    const current = Math.floor(table.offset / PAGE_SIZE) + 1;
    $("#queue-count").textContent = `${number(page.total)} queues`;
    $("#queues-page").textContent = `Page ${number(current)} of ${number(pages)}`;
    $("#queues-previous").disabled = $("#queues-first").disabled = current <= 1;
    $("#queues-next").disabled = $("#queues-last").disabled = current >= pages;
  } catch (error) {
    failed(error);
  }
  every(5, "queues", queues);
}

function queueRow(q) {
  const row = document.createElement("tr");
  cell(row, link(q.label || "(no label)", `#queue/${q.id_hash}`));
  cell(row, shortHash(q.id_hash), "hash");
  for (const value of [q.stored_messages, q.visible, q.in_flight, q.delayed]) {
    cell(row, number(value), "num");
  }
  cell(row, age(q.oldest_message_age_seconds), "num");
  cell(row, rate(q.sent_per_second), "num");
  cell(row, rate(q.received_per_second), "num");
  cell(row, bytes(q.stored_bytes), "num");
  cell(row, q.dead_letter_hash ? link(shortHash(q.dead_letter_hash), `#queue/${q.dead_letter_hash}`) : "–");
  return row;
}

// the column the table is sorted by says so (aria-sort); the form shows the same choice
function showSort() {
  const table = state.table;
  for (const th of document.querySelectorAll("#queue-table th[data-sort]")) {
    const sorted = th.dataset.sort === table.sort;
    th.setAttribute("aria-sort", sorted ? (table.order === "asc" ? "ascending" : "descending") : "none");
  }
  const form = $("#queue-filter");
  form.sort.value = table.sort;
  form.order.value = table.order;
}

function sortBy(column) {
  const table = state.table;
  // a second click reverses; numbers start with the largest, labels with A
  if (table.sort === column) table.order = table.order === "asc" ? "desc" : "asc";
  else table.order = column === "messages" || column === "bytes" ? "desc" : "asc";
  table.sort = column;
  table.offset = 0;
  queues();
}

function turnPage(offset) {
  const table = state.table;
  const last = Math.max(0, Math.ceil(table.total / PAGE_SIZE) - 1) * PAGE_SIZE;
  table.offset = Math.min(Math.max(0, offset), last);
  queues();
}

// a queue's page: attributes and counts, peek, purge, delete
async function queue(hash) {
  if (hash !== state.queue) {
    state.queue = hash;
    state.peekNext = null;
    $("#peeked").replaceChildren();
    $("#peek-more").hidden = true;
    $("#queue-confirm").hidden = true;
  }
  try {
    const q = await api("GET", `/queues/${hash}`);
    $("#queue-title").textContent = `Queue ${q.label || shortHash(q.id_hash)}`;
    facts($("#queue-facts"), [
      ["Label", q.label || "–"],
      ["Id hash", q.id_hash],
      ["Created", q.created_at],
      ["Visible", number(q.visible)],
      ["In flight", number(q.in_flight)],
      ["Delayed", number(q.delayed)],
      ["Stored", `${number(q.stored_messages)} messages, ${bytes(q.stored_bytes)}`],
      ["Oldest message", age(q.oldest_message_age_seconds)],
      ["Sent/s · received/s", `${rate(q.sent_per_second)} · ${rate(q.received_per_second)}`],
      ["Visibility timeout", `${q.visibility_timeout} s`],
      ["Retention", age(q.retention_seconds)],
      ["Delay · long-poll wait", `${q.delay_seconds} s · ${q.receive_wait_seconds} s`],
      ["Largest message", bytes(q.max_message_bytes)],
      ["Dead-letter queue", q.dead_letter ? `${shortHash(q.dead_letter.id_hash)} after ${q.dead_letter.max_receives} receives` : "–"],
    ]);
  } catch (error) {
    failed(error);
    return;
  }
  every(3, "queue", () => queue(hash));
}

async function peek(more) {
  const params = { limit: 20 };
  if (more && state.peekNext) params.after = state.peekNext;
  try {
    const page = await api("GET", `/queues/${state.queue}/messages`, params);
    const items = page.messages.map((m) => {
      const item = document.createElement("li");
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = `${m.state.replace("_", " ")} · sent ${m.sent_at} · received ${m.receive_count}×`;
      const body = document.createElement("pre");
      body.textContent = m.body_encoding === "base64" ? `(base64) ${m.body}` : m.body;
      item.append(meta, body);
      return item;
    });
    if (more) $("#peeked").append(...items);
    else $("#peeked").replaceChildren(...items);
    state.peekNext = page.next;
    $("#peek-more").hidden = !page.next;
    notify(items.length || more ? "" : "The queue holds no messages.");
  } catch (error) {
    failed(error);
  }
}

function ask(text, action, run) {
  state.confirm = run;
  $("#queue-confirm-text").textContent = text;
  $("#queue-confirm-yes").textContent = action;
  $("#queue-confirm").hidden = false;
  $("#queue-confirm-yes").focus();
}

// topics: listing, and a topic's subscriptions
async function topics(more) {
  try {
    const params = { limit: 100 };
    if (more && state.topicsNext) params.after = state.topicsNext;
    const page = await api("GET", "/topics", params);
    const rows = page.topics.map((t) => {
      const row = document.createElement("tr");
      cell(row, link(shortHash(t.id_hash), `#topic/${t.id_hash}`), "hash");
      cell(row, t.created_at);
      cell(row, number(t.subscriptions), "num");
      return row;
    });
    if (more) $("#topic-table tbody").append(...rows);
    else $("#topic-table tbody").replaceChildren(...rows);
    state.topicsNext = page.next;
    $("#topics-more").hidden = !page.next;
  } catch (error) {
    failed(error);
  }
}

async function topic(hash) {
  try {
    const t = await api("GET", `/topics/${hash}`);
    $("#topic-title").textContent = `Topic ${shortHash(t.id_hash)}`;
    facts($("#topic-facts"), [
      ["Id hash", t.id_hash],
      ["Public id", t.public_id],
      ["Created", t.created_at],
      ["Queue subscriptions", number(t.subscriptions.queue)],
      ["Webhooks confirmed", number(t.subscriptions.http_confirmed)],
      ["Pending confirmations", number(t.subscriptions.http_pending_confirmation)],
      ["Webhook backlog", number(t.pending_deliveries)],
    ]);
    $("#subscription-table tbody").replaceChildren(...t.subscription_list.map((s) => subscriptionRow(hash, s)));
  } catch (error) {
    failed(error);
    return;
  }
  every(3, "topic", () => topic(hash));
}

function subscriptionRow(hash, s) {
  const row = document.createElement("tr");
  const deliveries = s.deliveries || {};
  cell(row, s.endpoint || "–", "endpoint");
  cell(row, s.status === "pending_confirmation" ? "pending confirmation" : s.status);
  cell(row, number(deliveries.pending ?? 0), "num");
  cell(row, number(deliveries.delivered ?? 0), "num");
  cell(row, number(deliveries.failed ?? 0), "num");
  cell(row, deliveries.last_error || "–", deliveries.last_error ? "error" : "");
  cell(row, s.next_attempt_at || "–");
  const actions = document.createElement("div");
  actions.className = "row";
  const path = `/topics/${hash}/subscriptions/${encodeURIComponent(s.subscription_id)}`;
  if (s.protocol === "http") {
    actions.append(button("Retry now", async () => {
      const done = await api("POST", `${path}/retry`);
      notify(`${number(done.due_now)} pushes are due now.`);
      topic(hash);
    }));
  }
  const remove = button("Remove", async () => {
    if (remove.dataset.armed !== "yes") {
      remove.dataset.armed = "yes";
      remove.textContent = "Confirm remove";
      return;
    }
    await api("DELETE", path);
    notify("Subscription removed.");
    topic(hash);
  });
  remove.className = "danger";
  actions.append(remove);
  cell(row, actions);
  return row;
}

function button(text, run) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", () => run().catch(failed));
  return b;
}

// ---- wiring -----------------------------------------------------------------------------------

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, event.target.token.value.trim());
  event.target.reset();
  try {
    await api("GET", "/overview");
  } catch (error) {
    if (!(error instanceof Refused)) $("#login-error").textContent = error.message;
    return;
  }
  // a link to a view (#queues, #queue/<hash>) opens that view once signed in
  const asked = window.location.hash.slice(1).split("/")[0];
  if (VIEWS.includes(asked) && asked !== "login") route();
  else window.location.hash = "#overview";
});

$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.previous = null;
  show("login", null, "Signed out.");
});

$("#queue-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  Object.assign(state.table, {
    filter: form.filter.value.trim(),
    sort: form.sort.value,
    order: form.order.value,
    offset: 0,
  });
  queues();
});

for (const th of document.querySelectorAll("#queue-table th[data-sort]")) {
  th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.sort));
}
$("#queues-first").addEventListener("click", () => turnPage(0));
$("#queues-previous").addEventListener("click", () => turnPage(state.table.offset - PAGE_SIZE));
$("#queues-next").addEventListener("click", () => turnPage(state.table.offset + PAGE_SIZE));
$("#queues-last").addEventListener("click", () => turnPage(Number.MAX_SAFE_INTEGER));
$("#queue-peek").addEventListener("click", () => peek(false));
$("#peek-more").addEventListener("click", () => peek(true));
$("#topics-more").addEventListener("click", () => topics(true));

$("#queue-purge").addEventListener("click", () =>
  ask("Delete every message of this queue? This cannot be undone.", "Purge now", async () => {
    await api("POST", `/queues/${state.queue}/purge`);
    notify("Queue purged.");
    $("#peeked").replaceChildren();
    queue(state.queue);
  })
);
$("#queue-delete").addEventListener("click", () =>
  ask("Delete this queue and its messages? Its ids stop working.", "Delete now", async () => {
    await api("DELETE", `/queues/${state.queue}`);
    state.flash = "Queue deleted.";
    window.location.hash = "#queues";
  })
);
$("#queue-confirm-yes").addEventListener("click", () => {
  $("#queue-confirm").hidden = true;
  if (state.confirm) state.confirm().catch(failed);
  state.confirm = null;
});
$("#queue-confirm-no").addEventListener("click", () => {
  $("#queue-confirm").hidden = true;
  state.confirm = null;
});

window.addEventListener("hashchange", route);
route();
