// The EMS playground: every action is one HTTP request to this server, shown with its response
// and as curl and Python. Server data is only ever put in the page as text, never as HTML.
"use strict";

const STORE_KEY = "ems.playground.v1";
const origin = window.location.origin;
const $ = (selector) => document.querySelector(selector);

// ---- ids remembered in this browser -------------------------------------------------------

function loadSaved() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
    return { queues: saved.queues || [], topics: saved.topics || [] };
  } catch {
    return { queues: [], topics: [] };
  }
}

const saved = loadSaved();
const persist = () => localStorage.setItem(STORE_KEY, JSON.stringify(saved));

function describe(item, kind) {
  const name = item.label ? `${item.label} — ` : "";
  return `${name}${kind} ${item.id.slice(0, 8)}…`;
}

function fillSelects() {
  for (const select of document.querySelectorAll("select[data-queues], select[data-topics]")) {
    const kind = select.dataset.queues ? "queue" : "topic";
    const items = kind === "queue" ? saved.queues : saved.topics;
    const mode = select.dataset.queues || select.dataset.topics;
    const previous = select.value;
    select.replaceChildren();
    if (mode === "optional" || items.length === 0) {
      select.append(new Option(items.length ? "none" : `no ${kind}s yet: create one`, ""));
    }
    for (const item of items) select.append(new Option(describe(item, kind), item.id));
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
  }
  showQueueIds();
}

function showQueueIds() {
  const queue = saved.queues.find((q) => q.id === $("#queue").value);
  const ids = $("#queue-ids");
  ids.textContent = queue
    ? `queue_id ${queue.id} · send_id ${queue.send_id} · receive_id ${queue.receive_id}`
    : "";
}

function remember(list, item) {
  list.unshift(item);
  persist();
  fillSelects();
}

function forget(list, id) {
  const index = list.findIndex((item) => item.id === id);
  if (index >= 0) list.splice(index, 1);
  persist();
  fillSelects();
}

// ---- one HTTP exchange ----------------------------------------------------------------------

function requestText(request) {
  const target = Snippets.url("", request);
  const lines = [`${request.method} ${target} HTTP/1.1`];
  for (const [name, value] of request.headers || []) lines.push(`${name}: ${value}`);
  return lines.join("\n") + (request.body != null ? `\n\n${request.body}` : "");
}

function pretty(text, contentType) {
  if (!contentType.includes("json")) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function exchange(request, action, args) {
  $("#exchange-empty").hidden = true;
  $("#exchange-body").hidden = false;
  $("#request").textContent = requestText(request);
  $("#curl").textContent = Snippets.curl(origin, request);
  $("#python").textContent = Snippets.python(origin, action, args);
  $("#status").textContent = "…";
  $("#response").textContent = "waiting for the server";
  let response;
  try {
    response = await fetch(Snippets.url("", request), {
      method: request.method,
      headers: request.headers || [],
      body: request.body,
    });
  } catch (error) {
    $("#status").textContent = "no response";
    $("#response").textContent = String(error);
    return null;
  }
  const text = await response.text();
  const contentType = response.headers.get("content-type") || "";
  const shown = ["content-type", "location", "retry-after", "allow"]
    .filter((name) => response.headers.get(name))
    .map((name) => `${name}: ${response.headers.get(name)}`);
  $("#status").textContent = `${response.status} ${response.statusText}`;
  $("#status").dataset.ok = String(response.ok);
  $("#response").textContent =
    `HTTP ${response.status} ${response.statusText}\n${shown.join("\n")}` +
    (text ? `\n\n${pretty(text, contentType)}` : "");
  if (!response.ok) return null;
  return contentType.includes("json") ? JSON.parse(text) : text;
}

// ---- helpers for forms --------------------------------------------------------------------

function numbers(form, names) {
  const values = {};
  for (const name of names) {
    const raw = form.elements[name].value.trim();
    if (raw !== "") values[name] = Number(raw);
  }
  return values;
}

function attributeLines(text) {
  const attributes = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) attributes[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return attributes;
}

const attributeHeaders = (attributes) =>
  Object.entries(attributes).map(([name, value]) => [`EMS-Attribute-${name}`, value]);

function nonEmpty(values) {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== "" && v != null));
}

function needs(id, what) {
  if (id) return true;
  $("#exchange-empty").hidden = false;
  $("#exchange-empty").textContent = `Create or choose a ${what} first.`;
  return false;
}

const JSON_TYPE = ["Content-Type", "application/json"];
const selectedQueue = () => $("#queue").value;
const selectedTopic = () => $("#topic").value;

// ---- queues ---------------------------------------------------------------------------------

async function createQueue(form) {
  const attributes = numbers(form, [
    "visibility_timeout", "delay_seconds", "receive_wait_seconds", "retention_seconds",
  ]);
  const deadLetter = form.elements.dead_letter_queue.value;
  if (deadLetter) {
    const maxReceives = Number(form.elements.max_receives.value || 5);
    attributes.dead_letter = { queue_id: deadLetter, max_receives: maxReceives };
  }
  const body = Object.keys(attributes).length ? JSON.stringify(attributes) : null;
  const request = { method: "POST", path: "/ems/queue", headers: body ? [JSON_TYPE] : [], body };
  const created = await exchange(request, "createQueue", { attributes });
  if (created) {
    remember(saved.queues, {
      id: created.queue_id, send_id: created.send_id, receive_id: created.receive_id,
      label: form.elements.label.value.trim(),
    });
    $("#queue").value = created.queue_id;
    showQueueIds();
  }
}

async function queueCall(method, suffix, action) {
  const queue = selectedQueue();
  if (!needs(queue, "queue")) return null;
  const request = { method, path: `/ems/queue/${queue}${suffix}`, body: null };
  return exchange(request, action, { queue });
}

async function send(form) {
  const queue = selectedQueue();
  if (!needs(queue, "queue")) return;
  const options = nonEmpty({
    correlation_id: form.elements.correlation_id.value,
    delay_seconds: form.elements.delay_seconds.value ? Number(form.elements.delay_seconds.value) : "",
  });
  const attributes = attributeLines(form.elements.attributes.value);
  if (Object.keys(attributes).length) options.attributes = attributes;
  const request = {
    method: "POST", path: `/ems/queue/${queue}/message`,
    query: nonEmpty({ correlation_id: options.correlation_id, delay_seconds: options.delay_seconds }),
    headers: attributeHeaders(attributes), body: form.elements.body.value,
  };
  await exchange(request, "send", { queue, body: request.body, options });
}

async function receive(form) {
  const queue = selectedQueue();
  if (!needs(queue, "queue")) return;
  const options = numbers(form, ["max_messages", "wait_seconds", "visibility_timeout"]);
  if (form.elements.correlation_id.value) options.correlation_id = form.elements.correlation_id.value;
  const request = { method: "GET", path: `/ems/queue/${queue}/message`, query: options, body: null };
  const result = await exchange(request, "receive", { queue, options });
  const list = $("#received");
  list.replaceChildren();
  if (!result) return;
  if (result.messages.length === 0) {
    list.append(Object.assign(document.createElement("li"), { textContent: "No message." }));
  }
  for (const message of result.messages) list.append(receivedItem(queue, message));
  const last = result.messages.at(-1);
  if (last) $("#handle").elements.receipt_handle.value = last.receipt_handle;
}

function receivedItem(queue, message) {
  const item = document.createElement("li");
  const text = document.createElement("span");
  text.className = "body";
  text.textContent = message.body;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = ` receive #${message.receive_count} · ${message.message_id}`;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete message ${message.body.slice(0, 40)}`);
  remove.addEventListener("click", async () => {
    if (await deleteMessage(queue, message.receipt_handle) !== null) item.remove();
  });
  item.append(text, meta, " ", remove);
  return item;
}

function deleteMessage(queue, handle) {
  const request = { method: "DELETE", path: `/ems/queue/${queue}/message/${handle}`, body: null };
  return exchange(request, "deleteMessage", { queue, handle });
}

async function handleForm(form, op) {
  const queue = selectedQueue();
  if (!needs(queue, "queue")) return;
  const handle = form.elements.receipt_handle.value.trim();
  if (op === "delete") {
    await deleteMessage(queue, handle);
    return;
  }
  const timeout = Number(form.elements.visibility_timeout.value || 0);
  const request = {
    method: "PATCH", path: `/ems/queue/${queue}/message/${handle}`,
    query: { visibility_timeout: timeout }, body: null,
  };
  await exchange(request, "changeVisibility", { queue, handle, timeout });
}

// ---- topics ---------------------------------------------------------------------------------

async function createTopic(form) {
  const created = await exchange({ method: "POST", path: "/ems/topic", body: null }, "createTopic", {});
  if (created) {
    remember(saved.topics, { id: created.topic_id, label: form.elements.label.value.trim() });
    $("#topic").value = created.topic_id;
  }
}

async function topicCall(method, suffix, action) {
  const topic = selectedTopic();
  if (!needs(topic, "topic")) return null;
  return exchange({ method, path: `/ems/topic/${topic}${suffix}`, body: null }, action, { topic });
}

async function subscribe(form) {
  const topic = selectedTopic();
  if (!needs(topic, "topic")) return;
  const path = `/ems/topic/${topic}/subscription`;
  if (form.elements.kind.value === "url") {
    const url = form.elements.url.value.trim();
    await exchange({ method: "POST", path, query: { url }, body: null }, "subscribeUrl", { topic, url });
    return;
  }
  if (form.elements.kind.value === "email") {
    const email = form.elements.email.value.trim();
    await exchange(
      { method: "POST", path, query: { email }, body: null }, "subscribeEmail", { topic, email });
    return;
  }
  const chosen = form.elements.queue.value;
  if (!needs(chosen, "queue")) return;
  // a topic only sends: subscribe the queue's send_id, so the topic's holder never needs more
  const known = saved.queues.find((q) => q.id === chosen);
  const queue = known && known.send_id ? known.send_id : chosen;
  await exchange(
    { method: "POST", path, query: { queue_id: queue }, body: null }, "subscribeQueue", { topic, queue });
}

async function publish(form) {
  const topic = selectedTopic();
  if (!needs(topic, "topic")) return;
  const attributes = attributeLines(form.elements.attributes.value);
  const options = Object.keys(attributes).length ? { attributes } : {};
  const request = {
    method: "POST", path: `/ems/topic/${topic}/message`,
    headers: attributeHeaders(attributes), body: form.elements.body.value,
  };
  await exchange(request, "publish", { topic, body: request.body, options });
}

// ---- crypto ---------------------------------------------------------------------------------

async function randomKey() {
  const key = await exchange({ method: "GET", path: "/ems/crypto/random-key", body: null }, "randomKey", {});
  if (key) $("#crypto-form").elements.key.value = key.trim();
}

async function crypto(form, op) {
  const key = form.elements.key.value.trim();
  const fields = form.elements;
  const body = op === "encrypt" ? fields.plaintext.value : fields.token.value.trim();
  const request = {
    method: "POST", path: `/ems/crypto/${op}ion`, headers: [["Crypto-Key", key]], body,
  };
  const args = op === "encrypt" ? { key, plaintext: body } : { key, token: body };
  const result = await exchange(request, op, args);
  if (result !== null && op === "encrypt") fields.token.value = result;
  if (result !== null && op === "decrypt") fields.plaintext.value = result;
}

// ---- wiring ---------------------------------------------------------------------------------

function onSubmit(id, handler) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    handler(event.target, event.submitter ? event.submitter.value : "");
  });
}

function onClick(id, handler) {
  $(id).addEventListener("click", handler);
}

function copy(button) {
  const text = $("#" + button.dataset.copy).textContent;
  const done = () => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectText(button.dataset.copy));
  } else {
    selectText(button.dataset.copy);
  }
}

function selectText(id) {
  const range = document.createRange();
  range.selectNodeContents($("#" + id));
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

onSubmit("#create-queue", createQueue);
onSubmit("#send", send);
onSubmit("#receive", receive);
onSubmit("#handle", handleForm);
onSubmit("#create-topic", createTopic);
onSubmit("#subscribe", subscribe);
onSubmit("#publish", publish);
onSubmit("#crypto-form", crypto);
onClick("#queue-stats", () => queueCall("GET", "", "getQueue"));
onClick("#queue-peek", () => queueCall("GET", "/peek", "peek"));
onClick("#queue-purge", () => queueCall("POST", "/purge", "purge"));
onClick("#queue-redrive", () => queueCall("POST", "/redrive", "startRedrive"));
onClick("#queue-redrive-status", () => queueCall("GET", "/redrive", "getRedrive"));
onClick("#queue-redrive-cancel", () => queueCall("DELETE", "/redrive", "cancelRedrive"));
onClick("#queue-delete", async () => {
  const queue = selectedQueue();
  if (await queueCall("DELETE", "", "deleteQueue") !== null) forget(saved.queues, queue);
});
onClick("#queue-forget", () => forget(saved.queues, selectedQueue()));
onClick("#topic-stats", () => topicCall("GET", "", "getTopic"));
onClick("#topic-subscriptions", () => topicCall("GET", "/subscription", "subscriptions"));
onClick("#topic-delete", async () => {
  const topic = selectedTopic();
  if (await topicCall("DELETE", "", "deleteTopic") !== null) forget(saved.topics, topic);
});
onClick("#topic-forget", () => forget(saved.topics, selectedTopic()));
onClick("#random-key", randomKey);
$("#queue").addEventListener("change", showQueueIds);
for (const button of document.querySelectorAll("button.copy")) {
  button.addEventListener("click", () => copy(button));
}
fillSelects();
