// The same call as a curl command and as Python with the EMS client (pip install easy-message-service).
// Each playground action describes its HTTP request once; these turn it into text to copy.
"use strict";

const Snippets = (() => {
  // POSIX shell single quotes: nothing inside is special except the quote itself
  const sh = (text) => "'" + String(text).replace(/'/g, "'\\''") + "'";
  // a JSON string literal is a valid Python string literal (same escapes)
  const py = (text) => JSON.stringify(String(text));

  function url(origin, request) {
    const params = new URLSearchParams(request.query || {}).toString();
    return origin + request.path + (params ? "?" + params : "");
  }

  function curl(origin, request) {
    const lines = ["curl -sS"];
    if (request.method !== "GET" || request.body != null) {
      lines[0] += " -X " + request.method;
    }
    lines[0] += " " + sh(url(origin, request));
    for (const [name, value] of request.headers || []) {
      lines.push("-H " + sh(name + ": " + value));
    }
    if (request.body != null) {
      lines.push("--data-binary " + sh(request.body));
    }
    return lines.join(" \\\n  ");
  }

  function kwargs(options) {
    return Object.entries(options)
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(([name, value]) => {
        if (typeof value === "number") return `${name}=${value}`;
        if (typeof value === "object") return `${name}=${pyDict(value)}`;
        return `${name}=${py(value)}`;
      });
  }

  function pyDict(value) {
    const items = Object.entries(value).map(([k, v]) =>
      `${py(k)}: ${typeof v === "number" ? v : py(v)}`);
    return "{" + items.join(", ") + "}";
  }

  const call = (name, args, options = {}) =>
    `client.${name}(${[...args.map(py), ...kwargs(options)].join(", ")})`;

  // each action: the lines after "client = ems.Client(...)"
  const PYTHON = {
    createQueue: (a) => [
      `queue = ${call("create_queue", [], a.attributes)}`,
      "print(queue.queue_id, queue.send_id, queue.receive_id)",
    ],
    getQueue: (a) => [`info = ${call("get_queue", [a.queue])}`, "print(info.raw)"],
    peek: (a) => [`print(${call("peek", [a.queue])})`],
    purge: (a) => [call("purge_queue", [a.queue])],
    startRedrive: (a) => [`print(${call("start_redrive", [a.queue])})`],
    getRedrive: (a) => [`print(${call("get_redrive", [a.queue])})`],
    cancelRedrive: (a) => [`print(${call("cancel_redrive", [a.queue])})`],
    deleteQueue: (a) => [call("delete_queue", [a.queue])],
    send: (a) => [
      `message_id = ${call("send", [a.queue, a.body], a.options)}`,
      "print(message_id)",
    ],
    receive: (a) => [
      `for message in ${call("receive", [a.queue], a.options)}:`,
      "    print(message.receipt_handle, message.body, message.attributes)",
    ],
    deleteMessage: (a) => [call("delete", [a.queue, a.handle])],
    changeVisibility: (a) => [
      `client.change_visibility(${py(a.queue)}, ${py(a.handle)}, ${a.timeout})`,
    ],
    createTopic: () => ["topic = client.create_topic()", "print(topic.topic_id)"],
    getTopic: (a) => [`print(${call("get_topic", [a.topic])})`],
    subscriptions: (a) => [
      `for subscription in ${call("subscriptions", [a.topic])}:`,
      "    print(subscription.subscription_id, subscription.endpoint, subscription.status)",
    ],
    deleteTopic: (a) => [call("delete_topic", [a.topic])],
    subscribeQueue: (a) => [
      `subscription = ${call("subscribe_queue", [a.topic, a.queue])}`,
      "print(subscription.subscription_id, subscription.status)",
    ],
    subscribeUrl: (a) => [
      `subscription = ${call("subscribe_url", [a.topic, a.url])}`,
      "print(subscription.subscription_id, subscription.status, subscription.signing_secret)",
    ],
    subscribeEmail: (a) => [
      `subscription = ${call("subscribe_email", [a.topic, a.email])}`,
      "print(subscription.subscription_id, subscription.status)  # pending_confirmation",
    ],
    publish: (a) => [
      `published = ${call("publish", [a.topic, a.body], a.options)}`,
      "print(published.message_id, published.queues, published.webhooks, published.emails)",
    ],
    randomKey: () => [
      "key = client.random_key(server=True)  # without server=True: made locally",
      "print(key)",
    ],
    encrypt: (a) => [
      `token = ${call("encrypt", [a.key, a.plaintext])}  # locally: the key stays here`,
      "print(token)",
    ],
    decrypt: (a) => [
      `plaintext = ${call("decrypt", [a.key, a.token])}  # locally, like encrypt`,
      "print(plaintext)",
    ],
  };

  function python(origin, action, args) {
    const body = PYTHON[action](args);
    return ["import ems", "", `client = ems.Client(${py(origin)})`, ...body].join("\n");
  }

  return { curl, python, url };
})();
