// The playground's live stream panel: an EventSource on the selected queue's (or topic's)
// stream, each message shown as it arrives, with a Delete button that acknowledges it.
// Uses playground.js's helpers ($, selectedQueue, selectedTopic, needs, deleteMessage).
"use strict";

let live = null;

function liveItem(kind, id, message, acknowledged) {
  const item = document.createElement("li");
  const text = document.createElement("span");
  text.className = "body";
  text.textContent = message.body;
  const meta = document.createElement("span");
  meta.className = "meta";
  const count = kind === "queue" ? ` receive #${message.receive_count} ·` : "";
  meta.textContent = `${count} ${message.message_id}`;
  item.append(text, meta);
  if (kind === "queue" && !acknowledged) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Acknowledge message ${message.body.slice(0, 40)}`);
    remove.addEventListener("click", async () => {
      if (await deleteMessage(id, message.receipt_handle) !== null) item.remove();
    });
    item.append(" ", remove);
  }
  return item;
}

function streamUrl(form, kind, id) {
  if (kind === "topic") return `/ems/topic/${id}/stream`;
  const query = new URLSearchParams();
  for (const name of ["max_in_flight", "visibility_timeout", "correlation_id"]) {
    const value = form.elements[name].value.trim();
    if (value) query.set(name, value);
  }
  if (form.elements.delete.checked) query.set("delete", "true");
  const text = query.toString();
  return `/ems/queue/${id}/stream${text ? "?" + text : ""}`;
}

function setStreaming(form, streaming, state) {
  form.querySelector('button[value="start"]').disabled = streaming;
  form.querySelector('button[value="stop"]').disabled = !streaming;
  $("#live-state").textContent = state;
}

function stopStream(form) {
  if (live) live.close();
  live = null;
  setStreaming(form, false, "Not streaming.");
}

function startStream(form) {
  const kind = form.elements.kind.value;
  const id = kind === "queue" ? selectedQueue() : selectedTopic();
  if (!needs(id, kind)) return;
  stopStream(form);
  const url = streamUrl(form, kind, id);
  const acknowledged = kind === "queue" && form.elements.delete.checked;
  $("#live-curl").hidden = false;
  $("#live-curl").textContent = `curl -N '${window.location.origin}${url}'`;
  $("#live-messages").replaceChildren();
  live = new EventSource(url);
  setStreaming(form, true, "Connecting…");
  live.addEventListener("open", () => setStreaming(form, true, `Streaming the ${kind}.`));
  live.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    $("#live-messages").prepend(liveItem(kind, id, message, acknowledged));
  });
  live.addEventListener("dropped", (event) => {
    $("#live-state").textContent = `Fell behind: ${JSON.parse(event.data).dropped} lost.`;
  });
  live.addEventListener("error", (event) => {
    // an "error" event from the server carries a problem; a lost connection retries on its own
    if (event.data) {
      $("#live-state").textContent = JSON.parse(event.data).detail;
      stopStream(form);
    } else if (live && live.readyState === EventSource.CONNECTING) {
      $("#live-state").textContent = "Reconnecting…";
    } else {
      setStreaming(form, false, "The stream was refused; see the server's answer with curl.");
    }
  });
}

$("#live").addEventListener("submit", (event) => {
  event.preventDefault();
  if (event.submitter && event.submitter.value === "stop") stopStream(event.currentTarget);
  else startStream(event.currentTarget);
});
