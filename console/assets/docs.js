// Roster API reference: renders the served OpenAPI 3.1 document (paths,
// operations, parameters, request and response schemas) without any
// third-party code. Text from the document is inserted as text; only
// `code` spans and paragraphs of its Markdown are interpreted.
"use strict";

(function () {
  const METHODS = ["get", "put", "post", "patch", "delete", "options", "head", "trace"];
  let doc;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v; else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function fill(el, ...children) {
    el.replaceChildren();
    for (const c of children.flat(Infinity)) {
      if (c !== null && c !== undefined && c !== false) el.append(c);
    }
    return el;
  }

  // inline renders `code` spans and **bold**; everything else is text.
  function inline(text) {
    return String(text).split(/(`[^`]+`|\*\*[^*]+\*\*)/).map((part) => {
      if (part.startsWith("`") && part.endsWith("`") && part.length > 1) return h("code", {}, part.slice(1, -1));
      if (part.startsWith("**") && part.endsWith("**") && part.length > 3) return h("strong", {}, part.slice(2, -2));
      return part;
    });
  }

  // md renders paragraphs, "- " lists and "## " headings of a description.
  function md(text) {
    const box = h("div", { class: "md" });
    if (!text) return box;
    for (const block of String(text).split(/\n\s*\n/)) {
      const lines = block.split("\n");
      if (lines.every((l) => /^\s*[-*] /.test(l) || /^\s{2,}\S/.test(l))) {
        const ul = h("ul", {});
        for (const l of lines) {
          if (/^\s*[-*] /.test(l)) ul.append(h("li", {}, inline(l.replace(/^\s*[-*] /, ""))));
          else if (ul.lastChild) ul.lastChild.append(" ", ...inline(l.trim()));
        }
        box.append(ul);
      } else if (/^#{1,6} /.test(block)) {
        box.append(h("h4", {}, inline(block.replace(/^#+ /, ""))));
      } else {
        box.append(h("p", {}, inline(block)));
      }
    }
    return box;
  }

  function resolve(obj) {
    let seen = 0;
    while (obj && obj.$ref && seen++ < 20) {
      const path = obj.$ref.replace(/^#\//, "").split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
      obj = path.reduce((o, k) => (o ? o[k] : undefined), doc);
    }
    return obj || {};
  }

  function refName(obj) { return obj && obj.$ref ? obj.$ref.split("/").pop() : null; }

  const STRING_FORMATS = new Set(["uri", "email", "date-time", "date", "uuid", "hostname", "ipv4", "ipv6"]);

  // typeOf names a schema's type as a reader expects: refs by name, consts
  // as their value, "string (uri)" for a format without a type, and "any
  // JSON value" only for a schema that says nothing.
  function typeOf(s) {
    const name = refName(s);
    if (name) return name;
    if (s.const !== undefined) return JSON.stringify(s.const);
    if (s.type === "array") return "array of " + typeOf(s.items || {});
    if (s.allOf) return s.allOf.map(typeOf).join(" & ");
    if (s.oneOf || s.anyOf) return [...new Set((s.oneOf || s.anyOf).map(typeOf))].join(" | ");
    let t = Array.isArray(s.type) ? s.type.join(" | ")
      : s.type || (s.properties ? "object" : s.format && STRING_FORMATS.has(s.format) ? "string" : s.enum ? "enum" : "any JSON value");
    if (s.format) t += " (" + s.format + ")";
    return t;
  }

  // example returns the first example a schema, parameter or media object
  // carries, or undefined.
  function example(o) {
    if (!o) return undefined;
    if (o.example !== undefined) return o.example;
    if (Array.isArray(o.examples) && o.examples.length) return o.examples[0];
    if (o.examples && typeof o.examples === "object") {
      const first = Object.values(o.examples)[0];
      if (first) return resolve(first).value;
    }
    if (o.schema) return example(resolve(o.schema));
    return undefined;
  }

  function exampleBlock(value, label) {
    if (value === undefined) return null;
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return h("div", { class: "example" }, h("p", { class: "hint" }, label || "Example"), h("pre", {}, h("code", {}, text)));
  }

  function constraints(s) {
    const out = [];
    if (s.enum) out.push("one of " + s.enum.map((v) => JSON.stringify(v)).join(", "));
    for (const k of ["minimum", "maximum", "minLength", "maxLength", "maxItems", "pattern", "default"]) {
      if (s[k] !== undefined) out.push(k + " " + JSON.stringify(s[k]));
    }
    if (s.readOnly) out.push("read-only");
    if (s.writeOnly) out.push("write-only");
    return out.length ? h("span", { class: "hint" }, " — " + out.join("; ")) : null;
  }

  // schema renders a schema as nested lists of properties, following $ref,
  // allOf and array items to a bounded depth (documents may be recursive).
  function schema(s, depth) {
    const r = resolve(s);
    if (depth > 6) return h("span", { class: "type" }, typeOf(s));
    const props = {}, required = new Set(r.required || []);
    const parts = [r].concat((r.allOf || []).map(resolve));
    for (const p of parts) {
      Object.assign(props, p.properties || {});
      for (const q of p.required || []) required.add(q);
    }
    const box = h("div", {});
    if (r.description && depth === 0) box.append(md(r.description));
    if (r.type === "array" && r.items) {
      box.append(h("div", {}, h("span", { class: "type" }, typeOf(r)), schema(r.items, depth + 1)));
      return box;
    }
    const names = Object.keys(props);
    if (!names.length) {
      box.append(h("span", { class: "type" }, typeOf(r)), constraints(r));
      return box;
    }
    const ul = h("ul", { class: "schema" });
    for (const name of names) {
      const p = props[name], pr = resolve(p);
      const li = h("li", {}, h("code", {}, name), " ", h("span", { class: "type" }, typeOf(p)),
        required.has(name) ? h("span", { class: "req" }, " required") : null, constraints(pr));
      if (pr.description) li.append(h("span", { class: "hint" }, " ", inline(pr.description)));
      const nested = pr.type === "array" ? resolve(pr.items || {}) : pr;
      if (nested.properties || nested.allOf) {
        li.append(h("details", {}, h("summary", {}, "fields"), schema(pr.type === "array" ? pr.items : p, depth + 1)));
      }
      ul.append(li);
    }
    box.append(ul);
    return box;
  }

  function content(c) {
    if (!c) return null;
    return Object.entries(c).map(([type, media]) => h("div", {},
      h("p", { class: "hint" }, h("code", {}, type)), media.schema ? schema(media.schema, 0) : null,
      exampleBlock(example(media))));
  }

  function parameters(params) {
    if (!params.length) return null;
    const rows = params.map((p) => {
      p = resolve(p);
      const s = resolve(p.schema || {});
      return h("tr", {},
        h("td", {}, h("code", {}, p.name), p.required ? h("span", { class: "req" }, " required") : null),
        h("td", {}, p.in), h("td", {}, h("span", { class: "type" }, typeOf(p.schema || {})), constraints(s)),
        h("td", {}, inline(p.description || ""),
          example(p) !== undefined ? h("span", { class: "hint" }, " Example: ", h("code", {}, String(example(p)))) : null));
    });
    return [h("h4", {}, "Parameters"), h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Name", "In", "Type", "Description"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)))];
  }

  function operation(path, method, op, item) {
    const id = op.operationId || (method + path).replace(/[^A-Za-z0-9]+/g, "-");
    const isPublic = Array.isArray(op.security) && op.security.length === 0;
    // The token scope the operation needs, from its security requirement.
    const scopes = [...new Set((op.security || []).flatMap((req) => Object.values(req).flat()))];
    const params = (item.parameters || []).concat(op.parameters || []);
    const responses = Object.entries(op.responses || {}).map(([status, r]) => {
      const res = resolve(r);
      return h("details", { class: "response" },
        h("summary", {}, h("strong", {}, status), " ", inline(res.description || "")),
        content(res.content));
    });
    const body = op.requestBody ? resolve(op.requestBody) : null;
    return h("section", { class: "op", id, "data-method": method.toUpperCase(), "data-path": path },
      h("h3", {}, h("span", { class: "method " + method }, method.toUpperCase()), h("span", { class: "path" }, path),
        isPublic ? h("span", { class: "tag-public" }, "no auth") : null,
        scopes.map((sc) => h("span", { class: "tag-public tag-scope", title: "token scope" }, "scope " + sc))),
      op.summary ? h("p", {}, h("strong", {}, op.summary)) : null,
      md(op.description),
      parameters(params),
      body ? [h("h4", {}, "Request body", body.required ? " (required)" : ""), md(body.description), content(body.content)] : null,
      h("h4", {}, "Responses"), responses,
      tryIt(path, method, params.map(resolve), body, isPublic));
  }

  // ---- try it out --------------------------------------------------------

  const TOKEN_KEY = "roster.token"; // the console's sign-in, same origin
  const API_ROOT = new URL("../../", document.baseURI).pathname; // the server's root

  function tokenValue() { const t = document.getElementById("try-token"); return t ? t.value.trim() : ""; }

  // tryIt is a form that sends the operation to this server with the
  // token of the page's token field and shows the answer.
  function tryIt(path, method, params, body, isPublic) {
    const inputs = params.filter((p) => p.in === "path" || p.in === "query").map((p) => {
      const id = "try-" + Math.random().toString(36).slice(2);
      const ex = example(p);
      return { p, el: h("input", { id, name: p.name, type: "text", value: p.in === "path" && ex !== undefined ? String(ex) : "",
        placeholder: ex !== undefined ? String(ex) : "", autocomplete: "off" }), label: h("label", { for: id }, p.name, " (", p.in, ")") };
    });
    const media = body && body.content && body.content["application/json"];
    const ta = media ? h("textarea", { rows: 6, class: "try-body", "aria-label": "Request body (JSON)" }) : null;
    if (ta) { const ex = example(media); ta.value = ex === undefined ? "{}" : JSON.stringify(ex, null, 2); }
    const out = h("div", { class: "try-result", "aria-live": "polite" });
    const send = h("button", { type: "submit" }, "Send");
    const form = h("form", { class: "try-form" },
      h("div", { class: "grid" }, inputs.map((i) => h("div", { class: "field" }, i.label, i.el))),
      ta ? h("div", { class: "field" }, h("label", {}, "Body (JSON)"), ta) : null,
      h("div", { class: "actions" }, send, isPublic ? null : h("span", { class: "hint" }, "Sent with the token above.")),
      out);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      for (const { p, el } of inputs) {
        if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(el.value.trim()));
        else if (el.value !== "") query.set(p.name, el.value);
      }
      const qs = query.toString();
      const headers = { Accept: "application/json" };
      const tok = tokenValue();
      if (tok && !isPublic) headers.Authorization = "Bearer " + tok;
      const opts = { method: method.toUpperCase(), headers };
      if (ta) { headers["Content-Type"] = "application/json"; opts.body = ta.value; }
      send.disabled = true;
      try {
        const res = await fetch(API_ROOT + url.replace(/^\//, "") + (qs ? "?" + qs : ""), opts);
        const text = await res.text();
        let shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
        fill(out, h("p", { class: "try-status" }, h("strong", {}, String(res.status)), " ", res.statusText, " · ",
          h("code", {}, opts.method + " " + url + (qs ? "?" + qs : ""))), text ? h("pre", {}, h("code", {}, shown.slice(0, 20000))) : null);
      } catch (err) {
        fill(out, h("p", { class: "form-error" }, "The request failed: " + err.message));
      } finally { send.disabled = false; }
    });
    return h("details", { class: "try" }, h("summary", {}, "Try it out"), form);
  }

  // tokenBar is the page's token field (prefilled from the console's
  // sign-in in this tab) and the search box that filters operations.
  function tokenBar() {
    const tok = h("input", { id: "try-token", type: "password", autocomplete: "off", placeholder: "Paste a token, or sign in to the console" });
    tok.value = sessionStorage.getItem(TOKEN_KEY) || "";
    const search = h("input", { id: "docs-search", type: "search", autocomplete: "off", placeholder: "Path, summary or word" });
    search.addEventListener("input", () => filter(search.value));
    return h("div", { class: "card docs-tools" },
      h("div", { class: "grid" },
        h("div", { class: "field" }, h("label", { for: "docs-search" }, "Search operations"), search),
        h("div", { class: "field" }, h("label", { for: "try-token" }, "Bearer token for \"Try it out\""), tok)),
      h("p", { class: "hint", id: "docs-count", "aria-live": "polite" }));
  }

  // filter hides the operations (and their table-of-contents entries) that
  // do not contain every word of q in their method, path, summary,
  // description or parameter names.
  function filter(q) {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const op of document.querySelectorAll(".op")) {
      const text = op.dataset.search || (op.dataset.search = (op.dataset.method + " " + op.dataset.path + " " + op.textContent).toLowerCase());
      const hit = words.every((w) => text.includes(w));
      op.hidden = !hit;
      const link = document.querySelector('#toc a[href="#' + CSS.escape(op.id) + '"]');
      if (link) link.parentElement.hidden = !hit;
      if (hit) shown++;
    }
    for (const sec of document.querySelectorAll("main section[id^=tag-]")) sec.hidden = !sec.querySelector(".op:not([hidden])");
    document.getElementById("docs-count").textContent = words.length ? shown + " operations match." : "";
  }

  function render() {
    const main = document.getElementById("main");
    const toc = document.getElementById("toc");
    const info = doc.info || {};
    document.title = (info.title || "API") + " " + (info.version || "") + " · reference";
    const tags = (doc.tags || []).map((t) => t.name);
    const byTag = new Map(tags.map((t) => [t, []]));
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || "other";
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push(operation(path, m, op, item));
      }
    }
    const sections = [];
    const tocParts = [h("h2", {}, "Operations")];
    for (const [tag, ops] of byTag) {
      if (!ops.length) continue;
      const t = (doc.tags || []).find((x) => x.name === tag) || {};
      sections.push(h("section", { id: "tag-" + tag, "aria-labelledby": "tag-h-" + tag },
        h("h2", { id: "tag-h-" + tag }, tag), t.description ? md(t.description) : null, ops));
      tocParts.push(h("h3", {}, h("a", { href: "#tag-" + tag }, tag)),
        h("ul", {}, ops.map((op) => h("li", {}, h("a", { href: "#" + op.id },
          h("span", { class: "method " + op.dataset.method.toLowerCase() }, op.dataset.method), " ",
          h("span", { class: "toc-path" }, op.dataset.path))))));
    }
    fill(toc, ...tocParts);
    fill(main, 
      h("h1", {}, info.title || "API", " ", h("span", { class: "badge" }, info.version || "")),
      info.summary ? h("p", {}, info.summary) : null,
      h("details", {}, h("summary", {}, "About this API"), md(info.description)),
      tokenBar(),
      sections);
    main.dataset.operations = String(main.querySelectorAll(".op").length);
    if (location.hash.length > 1) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  fetch("openapi.json", { headers: { Accept: "application/json" } })
    .then((res) => {
      if (!res.ok) throw new Error("GET openapi.json: " + res.status);
      return res.json();
    })
    .then((d) => { doc = d; render(); })
    .catch((err) => {
      fill(document.getElementById("main"), h("p", { class: "form-error" }, "Could not load the OpenAPI document: " + err.message));
    });
})();
