// The page of the web_response recipe (see app.py): submit a job to EMS with a ticket, then
// show its result the moment EMS streams it. Talks to EMS on another origin (CORS).
"use strict";

const $ = (selector) => document.querySelector(selector);
const shown = new Set(); // tickets whose result is on the page: each is shown once

async function ems(config, method, path, options = {}) {
  const response = await fetch(config.ems + path, { method, ...options });
  if (!response.ok) throw new Error(`${method} ${path.split("/").slice(0, 3).join("/")}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

function showResult(ticket, text) {
  if (shown.has(ticket)) return false; // a job redone after a crash may answer twice
  shown.add(ticket);
  const item = document.createElement("li");
  item.dataset.ticket = ticket;
  item.textContent = text;
  $("#results").append(item);
  return true;
}

async function submit(config, photo) {
  const ticket = crypto.randomUUID();
  // a reply queue of this page's own: nobody else can read what arrives there
  const replies = await ems(config, "POST", "/ems/queue");
  const stream = new EventSource(
    `${config.ems}/ems/queue/${replies.receive_id}/stream?correlation_id=${ticket}`,
  );
  stream.addEventListener("message", async (event) => {
    const message = JSON.parse(event.data);
    if (showResult(ticket, message.body)) $("#state").textContent = "Done.";
    // acknowledge: the result is shown, EMS may forget it (and this page's queue)
    stream.close();
    await ems(config, "DELETE", `/ems/queue/${replies.receive_id}/message/${message.receipt_handle}`);
    await ems(config, "DELETE", `/ems/queue/${replies.queue_id}`);
  });
  await ems(config, "POST", `/ems/queue/${config.jobs}/message?correlation_id=${ticket}`, {
    headers: { "Content-Type": "text/plain", "EMS-Attribute-reply-to": replies.send_id },
    body: photo,
  });
  $("#state").textContent = `Working on ${photo}…`;
}

async function start() {
  const config = await (await fetch("/config.json")).json();
  $("#job").addEventListener("submit", (event) => {
    event.preventDefault();
    submit(config, event.currentTarget.elements.photo.value).catch((error) => {
      $("#state").textContent = `Failed: ${error.message}`;
    });
  });
}

start();
