// The EMS operator console, part 2 of 3: the queue table (sorted, filtered and paged by the
// server) and a queue's page (attributes and counts, peek, purge, delete).
"use strict";

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
    await redriveStatus(hash);
  } catch (error) {
    failed(error);
    return;
  }
  every(3, "queue", () => queue(hash));
}

// a dead-letter queue's latest message move task (redrive), and what may be done now
async function redriveStatus(hash) {
  const { tasks } = await api("GET", `/queues/${hash}/redrive`);
  const task = tasks[0];
  const running = Boolean(task) && (task.status === "RUNNING" || task.status === "CANCELLING");
  $("#redrive-status").textContent = task
    ? `${task.status.toLowerCase()}: ${number(task.messages_moved)} of ${number(task.messages_to_move)} ` +
      `messages moved, started ${task.started_at}` +
      (task.failure_reason ? ` (${task.failure_reason})` : "")
    : "No redrive yet. A redrive moves this queue's messages back to the queues they were dead-lettered from.";
  $("#redrive-start").hidden = running;
  $("#redrive-cancel").hidden = !running;
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

async function startRedrive() {
  await api("POST", `/queues/${state.queue}/redrive`);
  notify("Redrive started.");
  await redriveStatus(state.queue);
}

async function cancelRedrive() {
  await api("DELETE", `/queues/${state.queue}/redrive`);
  notify("Redrive cancelled; messages already moved stay moved.");
  await redriveStatus(state.queue);
}
