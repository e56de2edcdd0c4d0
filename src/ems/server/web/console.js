// The EMS operator console, part 3 of 3: the views and their wiring. Queues and topics appear
// by the hash of their ids: the server has no ids to show.
"use strict";

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
      cell(row, number(t.webhook_backlog), "num");
      cell(row, number(t.failing_subscriptions), t.failing_subscriptions ? "num error" : "num");
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
$("#redrive-start").addEventListener("click", () => startRedrive().catch(failed));
$("#redrive-cancel").addEventListener("click", () => cancelRedrive().catch(failed));
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
