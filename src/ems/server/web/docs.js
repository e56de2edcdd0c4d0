// The API reference, rendered in the browser from /ems/openapi.json with no library: the page
// is always exactly the document the server describes itself with. Text only, never HTML.
"use strict";

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

// the document's descriptions use a little Markdown: paragraphs, **bold** and `code`
function markdown(text) {
  return (text || "").split(/\n\s*\n/).map((paragraph) => {
    const p = el("p");
    for (const part of paragraph.split(/(\*\*[^*]+\*\*|`[^`]+`)/)) {
      if (part.startsWith("**") && part.endsWith("**")) p.append(el("strong", {}, part.slice(2, -2)));
      else if (part.startsWith("`") && part.endsWith("`")) p.append(el("code", {}, part.slice(1, -1)));
      else p.append(part);
    }
    return p;
  });
}

function resolve(spec, node) {
  let seen = 0;
  while (node && node.$ref && seen++ < 10) {
    node = node.$ref.replace(/^#\//, "").split("/").reduce((at, key) => at[key], spec);
  }
  return node || {};
}

const refName = (node) => (node && node.$ref ? node.$ref.split("/").pop() : null);

function typeOf(spec, schema) {
  const s = resolve(spec, schema);
  if (s.oneOf) return s.oneOf.map((part) => typeOf(spec, part)).join(" or ");
  const type = Array.isArray(s.type) ? s.type.join(" or ") : s.type || "any";
  if (type === "array" && s.items) return `array of ${refName(s.items) || typeOf(spec, s.items)}`;
  return refName(schema) && type === "object" ? refName(schema) : type;
}

function constraints(schema) {
  const notes = [];
  if (schema.minimum !== undefined && schema.maximum !== undefined) {
    notes.push(`${schema.minimum}–${schema.maximum}`);
  }
  if (schema.enum) notes.push("one of " + schema.enum.join(", "));
  if (schema.maxItems) notes.push(`up to ${schema.maxItems} items`);
  if (schema.maxLength) notes.push(`up to ${schema.maxLength} characters`);
  if (schema.format) notes.push(schema.format);
  return notes.join("; ");
}

function schemaTable(spec, schema, depth = 0) {
  const s = resolve(spec, schema);
  const target = s.oneOf ? resolve(spec, s.oneOf.find((p) => resolve(spec, p).properties) || {}) : s;
  if (!target.properties || depth > 2) {
    return el("p", { className: "type" }, typeOf(spec, schema), " ", constraints(s));
  }
  const required = new Set(target.required || []);
  const body = el("tbody");
  for (const [name, property] of Object.entries(target.properties)) {
    const p = resolve(spec, property);
    const cell = el("td", {}, p.description || "", " ", el("span", { className: "note" }, constraints(p)));
    const nested = p.properties || (p.items && resolve(spec, p.items).properties);
    if (nested && depth < 2) cell.append(schemaTable(spec, p.properties ? p : p.items, depth + 1));
    body.append(el("tr", {},
      el("th", { scope: "row" }, el("code", {}, name), required.has(name) ? "" : " (optional)"),
      el("td", {}, typeOf(spec, property)), cell));
  }
  const head = el("thead", {}, el("tr", {},
    el("th", { scope: "col" }, "field"), el("th", { scope: "col" }, "type"),
    el("th", { scope: "col" }, "meaning")));
  return el("table", {}, head, body);
}

function parameters(spec, operation) {
  if (!operation.parameters) return null;
  const body = el("tbody");
  for (const parameter of operation.parameters.map((p) => resolve(spec, p))) {
    body.append(el("tr", {},
      el("th", { scope: "row" }, el("code", {}, parameter.name)),
      el("td", {}, parameter.in + (parameter.required ? ", required" : "")),
      el("td", {}, typeOf(spec, parameter.schema), " ",
        el("span", { className: "note" }, constraints(resolve(spec, parameter.schema)))),
      el("td", {}, parameter.description || "")));
  }
  const head = el("thead", {}, el("tr", {}, ...["name", "in", "type", "meaning"].map(
    (t) => el("th", { scope: "col" }, t))));
  return el("div", {}, el("h4", {}, "Parameters"), el("table", {}, head, body));
}

function content(spec, media) {
  const blocks = [];
  for (const [type, entry] of Object.entries(media || {})) {
    blocks.push(el("p", { className: "media" }, el("code", {}, type)));
    if (entry.schema && !type.startsWith("text/") && !type.includes("octet")) {
      blocks.push(schemaTable(spec, entry.schema));
    }
  }
  return blocks;
}

function responses(spec, operation) {
  const list = el("dl", { className: "responses" });
  for (const [status, raw] of Object.entries(operation.responses)) {
    const response = resolve(spec, raw);
    const problem = refName(raw) && refName(raw).startsWith("Problem");
    list.append(el("dt", { className: problem ? "problem" : "ok" }, status),
      el("dd", {}, response.description || "",
        ...(problem ? [" (problem+json)"] : content(spec, response.content))));
  }
  return el("div", {}, el("h4", {}, "Responses"), list);
}

function operationSection(spec, path, method, operation) {
  const section = el("section", { id: operation.operationId, className: "operation" });
  section.append(el("h3", {}, el("span", { className: `method ${method}` }, method.toUpperCase()),
    " ", el("code", {}, path)));
  section.append(el("p", { className: "summary" }, operation.summary || ""));
  section.append(...markdown(operation.description));
  section.append(parameters(spec, operation) || "");
  if (operation.requestBody) {
    const body = resolve(spec, operation.requestBody);
    section.append(el("h4", {}, body.required ? "Body" : "Body (optional)"),
      ...content(spec, body.content));
  }
  section.append(responses(spec, operation));
  return section;
}

function problemTypes(spec) {
  const problem = spec.components.schemas.Problem;
  const list = el("ul", { className: "problem-types" });
  for (const type of problem.properties.type.enum) list.append(el("li", {}, el("code", {}, type)));
  return el("section", { id: "problems" }, el("h2", {}, "Problem types"),
    ...markdown(problem.description), schemaTable(spec, problem), list);
}

function render(spec) {
  const main = document.getElementById("main");
  const toc = document.getElementById("toc");
  main.replaceChildren(el("p", { className: "version" }, `${spec.info.title} ${spec.info.version} · OpenAPI ${spec.openapi}`),
    ...markdown(spec.info.description));
  toc.replaceChildren();
  for (const tag of spec.tags) {
    const links = el("ul");
    const section = el("section", { id: `tag-${tag.name}` }, el("h2", {}, tag.name), ...markdown(tag.description));
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        if (!operation.tags.includes(tag.name)) continue;
        section.append(operationSection(spec, path, method, operation));
        links.append(el("li", {}, el("a", { href: `#${operation.operationId}`, title: `${method.toUpperCase()} ${path}` },
          operation.summary || `${method.toUpperCase()} ${path}`)));
      }
    }
    main.append(section);
    toc.append(el("h2", {}, el("a", { href: `#tag-${tag.name}` }, tag.name)), links);
  }
  main.append(problemTypes(spec));
  toc.append(el("h2", {}, el("a", { href: "#problems" }, "Problem types")));
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

fetch("/ems/openapi.json")
  .then((response) => response.json())
  .then(render)
  .catch((error) => {
    document.getElementById("main").replaceChildren(el("p", {}, `Could not load the API description: ${error}`));
  });
