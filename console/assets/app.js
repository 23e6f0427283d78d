// Roster admin console: a small single-page app over the /api/v3 JSON API.
// No framework and no build step. Views are functions of the hash route
// (#/users, #/users/7, ...) that build DOM nodes with h(); everything the
// server sends is inserted as text, never as HTML.
"use strict";

const API = new URL("../api/v3/", document.baseURI).pathname;
const TOKEN_KEY = "roster.token";
const ROLES = ["viewer", "member", "admin"];
const PAGE_SIZE = 20;

const state = { me: null, cleanup: [] };

// ---- DOM helpers ---------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "value" && tag !== "option" && tag !== "button") value = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  if (value !== undefined) el.value = value;
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// fill replaces the children of el, skipping null, false and undefined
// (which replaceChildren would turn into text).
function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

function $(sel, root) { return (root || document).querySelector(sel); }

function setStatus(msg, kind) {
  const s = $("#status");
  s.textContent = msg || "";
  s.className = "status" + (kind ? " " + kind : "");
}

function fmtTime(s) {
  if (!s) return "—";
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

function fullName(u) { return [u.firstName, u.lastName].filter(Boolean).join(" "); }

function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

// ---- API -----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || "Request failed (" + status + ").");
    this.status = status;
    this.problem = problem || {};
  }
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(method, path, body, headers) {
  const opts = { method, headers: Object.assign({ Accept: "application/json" }, headers) };
  const tok = token();
  if (tok) opts.headers.Authorization = "Bearer " + tok;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, opts);
  } catch (e) {
    throw new ApiError(0, { detail: "The server cannot be reached." });
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401 && tok && path !== "auth/token") {
      sessionStorage.removeItem(TOKEN_KEY);
      state.me = null;
      setTimeout(() => route("Your session has ended; sign in again."), 0);
    }
    throw new ApiError(res.status, data);
  }
  return { data, etag: res.headers.get("ETag") };
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}

// fail shows an error in the status region (never on the browser console).
function fail(err) {
  if (err instanceof ApiError && err.status === 401 && !token()) return;
  setStatus(err.message || String(err), "error");
}

// Field errors from a problem+json answer, shown next to their inputs.
function showFieldErrors(form, err) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const errors = (err && err.problem && err.problem.errors) || {};
  let first = null;
  const rest = [];
  for (const [field, msgs] of Object.entries(errors)) {
    const input = form.elements[field];
    const slot = form.querySelector("#err-" + field);
    const text = [].concat(msgs).join(" ");
    if (input && slot) {
      slot.textContent = text;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else {
      rest.push(field + ": " + text);
    }
  }
  if (first) first.focus();
  return rest;
}

function field(name, label, attrs, hint) {
  const id = "f-" + name;
  const input = attrs && attrs.tag === "textarea"
    ? h("textarea", Object.assign({ id, name, "aria-describedby": "err-" + name }, attrs, { tag: null }))
    : attrs && attrs.tag === "select"
      ? h("select", { id, name, "aria-describedby": "err-" + name }, attrs.options)
      : h("input", Object.assign({ id, name, type: "text", "aria-describedby": "err-" + name }, attrs));
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", id: "err-" + name }));
}

function roleSelect(value, attrs) {
  return h("select", attrs, ROLES.map((r) => h("option", { value: r, selected: r === value }, r)));
}

const PAGE_SIZES = [10, 20, 50, 100, 500];

// pages returns the page numbers a pager shows: the first, the last, and
// two on each side of the current one, with null where pages are skipped.
function pages(page, last) {
  const out = [];
  for (let p = 1; p <= last; p++) {
    if (p === 1 || p === last || Math.abs(p - page) <= 2) out.push(p);
    else if (out[out.length - 1] !== null) out.push(null);
  }
  return out;
}

// pager renders numbered pages, Previous/Next, the total and a page-size
// choice for one DRF page; go(page, size) loads another one. pg is
// {page, size}.
function pager(pg, data, go, label) {
  const last = Math.max(1, Math.ceil(data.count / pg.size));
  const first = data.count ? (pg.page - 1) * pg.size + 1 : 0;
  const to = Math.min(data.count, pg.page * pg.size);
  const size = h("select", { "aria-label": "Rows per page", class: "page-size",
    onchange: () => go(1, Number(size.value)) },
  PAGE_SIZES.map((n) => h("option", { value: n, selected: n === pg.size }, n + " per page")));
  return h("nav", { class: "pager", "aria-label": label || "Pages" },
    h("button", { type: "button", class: "secondary small", disabled: pg.page <= 1, "aria-label": "Previous page",
      onclick: () => go(pg.page - 1, pg.size) }, "←"),
    h("span", { class: "page-numbers" }, pages(pg.page, last).map((p) => p === null ? h("span", { class: "gap" }, "…")
      : h("button", { type: "button", class: "secondary small page", "aria-current": p === pg.page ? "page" : null,
        "aria-label": "Page " + p, onclick: () => go(p, pg.size) }, String(p)))),
    h("button", { type: "button", class: "secondary small", disabled: pg.page >= last, "aria-label": "Next page",
      onclick: () => go(pg.page + 1, pg.size) }, "→"),
    h("span", { class: "page-total" }, `Page ${pg.page} of ${last} · ${data.count} ${data.count === 1 ? "result" : "results"}`,
      data.count ? ` (${first}–${to})` : ""),
    size);
}

// pagedList loads one page at a time with fetchPage({page, page_size})
// into box, rendered by render(data) above a pager. It returns reload(),
// which keeps the page (or goes back to page 1 with reload(true)); a page
// past the end (after deletions) falls back to the last one.
function pagedList(box, fetchPage, render, label, size) {
  const pg = { page: 1, size: size || PAGE_SIZE };
  let seq = 0;
  async function load() {
    const mine = ++seq;
    box.setAttribute("aria-busy", "true");
    try {
      const data = await fetchPage({ page: pg.page, page_size: pg.size });
      if (mine !== seq) return;
      fill(box, render(data), data.count > pg.size || pg.page > 1 || pg.size !== (size || PAGE_SIZE)
        ? pager(pg, data, (p, sz) => { pg.page = p; pg.size = sz; load(); }, label) : h("p", { class: "hint page-total" },
          data.count === 1 ? "1 result" : data.count + " results"));
    } catch (err) {
      if (mine !== seq) return;
      if (err.status === 404 && pg.page > 1) { pg.page = 1; load(); return; }
      fill(box, h("p", { class: "form-error" }, err.message));
    } finally {
      if (mine === seq) box.setAttribute("aria-busy", "false");
    }
  }
  return (reset) => { if (reset) pg.page = 1; return load(); };
}

// confirmDialog asks before a destructive action; it resolves to true when
// the user confirms.
function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "confirm-title" }, title),
        h("p", {}, text),
        h("div", { class: "actions" },
          h("button", { value: "cancel", class: "secondary", autofocus: true }, "Cancel"),
          h("button", { value: "ok", class: "danger", id: "confirm-ok" }, action))));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "ok"); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// formError shows an API error on a form: field messages next to their
// inputs, and the generic detail ("Invalid input.") only when no field
// could show its message.
function formError(form, err, slot) {
  const rest = showFieldErrors(form, err);
  const fields = Object.keys((err && err.problem && err.problem.errors) || {}).length;
  (slot || $(".form-error", form)).textContent = rest.length ? rest.join(" ") : fields ? "" : err.message;
}

function table(headers, rows, attrs) {
  return h("div", { class: "table-wrap" },
    h("table", attrs || {},
      h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)));
}

function emptyRow(cols, text) {
  return h("tr", {}, h("td", { colspan: cols, class: "empty" }, text));
}

// findUserByUsername resolves a typed username, email or "#id" to one user.
// A name that is one user's username and another's email (possible only in
// data from before they were made unique across both fields) is refused as
// ambiguous rather than resolved to either: grants go by id.
async function findUserByUsername(name) {
  name = name.trim();
  if (!name) return null;
  const byID = /^#([1-9][0-9]*)$/.exec(name);
  if (byID) {
    try { return (await api("GET", `users/${byID[1]}`)).data; } catch (e) { return null; }
  }
  const { data } = await api("GET", "users/search" + qs({ q: name, page_size: 10 }));
  const lower = name.toLowerCase();
  const hits = data.results.filter((u) => u.username.toLowerCase() === lower || u.email.toLowerCase() === lower);
  if (new Set(hits.map((u) => u.id)).size > 1) {
    throw new Error(`"${name}" is the username of one user and the email of another; enter #id instead.`);
  }
  return hits[0] || null;
}

// userPicker is a text input that suggests usernames as one types.
function userPicker(id, label) {
  const list = h("datalist", { id: id + "-list" });
  const input = h("input", { id, name: "username", type: "text", autocomplete: "off", list: id + "-list", required: true });
  const suggest = debounce(async () => {
    const q = input.value.trim();
    if (!q) return;
    try {
      const { data } = await api("GET", "users/search" + qs({ q, page_size: 8 }));
      fill(list, ...data.results.map((u) => h("option", { value: u.username }, `${fullName(u) || u.email} (#${u.id})`)));
    } catch (e) { /* suggestions are best effort */ }
  }, 250);
  input.addEventListener("input", suggest);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, list);
}

// ---- sign in and out -----------------------------------------------------

function viewSignIn(message) {
  $("#nav").hidden = true;
  $("#whoami").hidden = true;
  const form = h("form", { class: "card narrow", id: "signin-form", novalidate: true },
    h("h1", { tabindex: "-1" }, "Sign in"),
    message ? h("p", { class: "notice" }, message) : null,
    field("username", "Username or email", { autocomplete: "username", required: true, autocapitalize: "none" }),
    field("password", "Password", { type: "password", autocomplete: "current-password", required: true }),
    h("p", { class: "form-error", id: "signin-error", role: "alert" }),
    h("button", { type: "submit" }, "Sign in"));
  const sso = h("div", { class: "sso", id: "sso-providers" });
  form.append(sso);
  // One button per enabled single sign-on provider; the provider sends the
  // browser back here with a one-time code in the fragment (ssoReturn).
  api("GET", "auth/providers").then(({ data }) => {
    if (!data.length) return;
    fill(sso, h("p", { class: "hint" }, "Or sign in with"),
      ...data.map((p) => {
        const a = h("a", { class: "button secondary sso-provider", "data-provider": p.name,
          href: API + "auth/oidc/" + encodeURIComponent(p.name) + "/login" + qs({ redirect_uri: location.pathname }) },
        p.displayName);
        // This tab started a sign-in: only then does ssoReturn take a code.
        a.addEventListener("click", () => sessionStorage.setItem(SSO_PENDING_KEY, String(Date.now())));
        return a;
      }));
  }).catch(() => { /* no providers to show */ });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    $("#signin-error").textContent = "";
    try {
      const { data } = await api("POST", "auth/token", {
        username: form.elements.username.value, password: form.elements.password.value,
      });
      sessionStorage.setItem(TOKEN_KEY, data.token);
      state.me = data.user;
      if (!location.hash || location.hash === "#/") location.hash = "#/users"; // routes on hashchange
      else route();
    } catch (err) {
      formError(form, err, $("#signin-error"));
      btn.disabled = false;
    }
  });
  return form;
}

async function signOut() {
  try { await api("DELETE", "auth/token"); } catch (e) { /* the token may be dead already */ }
  sessionStorage.removeItem(TOKEN_KEY);
  state.me = null;
  location.hash = "#/users";
  route("You are signed out.");
}

// ---- users ---------------------------------------------------------------

const ORDERINGS = [
  ["id", "ID"], ["username", "Username"], ["email", "Email"], ["firstName", "First name"],
  ["lastName", "Last name"], ["dateJoined", "Date joined"], ["lastLogin", "Last login"],
];

// sortHeader is a column header that orders the list by field: a click
// sorts ascending, a second click descending (aria-sort tells which).
function sortHeader(label, field, current, onSort) {
  const dir = current === field ? "ascending" : current === "-" + field ? "descending" : null;
  return h("th", { scope: "col", "aria-sort": dir || "none" },
    h("button", { type: "button", class: "sort", "data-sort": field,
      onclick: () => onSort(current === field ? "-" + field : field) },
    label, h("span", { "aria-hidden": "true", class: "sort-mark" }, dir === "ascending" ? " ▲" : dir === "descending" ? " ▼" : "")));
}

function viewUsers(params) {
  const st = {
    q: params.get("q") || "", page: Math.max(1, parseInt(params.get("page"), 10) || 1),
    size: PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : PAGE_SIZE,
    ordering: params.get("ordering") || "id", isActive: params.get("isActive") || "",
  };
  let seq = 0;
  const results = h("div", { id: "user-results", "aria-live": "polite", "aria-busy": "false" });
  const search = h("input", { id: "user-search", type: "search", value: st.q, autocomplete: "off",
    placeholder: "Name, username or email", "aria-controls": "user-results" });
  const ordering = h("select", { id: "user-ordering" },
    ORDERINGS.flatMap(([v, label]) => [
      h("option", { value: v, selected: st.ordering === v }, label + " ↑"),
      h("option", { value: "-" + v, selected: st.ordering === "-" + v }, label + " ↓"),
    ]));
  const active = h("select", { id: "user-active" },
    [["", "All"], ["true", "Active"], ["false", "Inactive"]].map(([v, l]) => h("option", { value: v, selected: st.isActive === v }, l)));

  function sortBy(o) { st.ordering = o; ordering.value = o; st.page = 1; load(); }

  async function load() {
    const mine = ++seq;
    const searching = !!st.q.trim();
    ordering.disabled = searching;
    history.replaceState(null, "", "#/users" + qs({ q: st.q.trim(), page: st.page > 1 ? st.page : "",
      page_size: st.size !== PAGE_SIZE ? st.size : "", ordering: st.ordering !== "id" ? st.ordering : "", isActive: st.isActive }));
    results.setAttribute("aria-busy", "true");
    try {
      const p = { page: st.page, page_size: st.size, isActive: st.isActive };
      const { data } = searching
        ? await api("GET", "users/search" + qs(Object.assign({ q: st.q.trim() }, p)))
        : await api("GET", "users" + qs(Object.assign({ ordering: st.ordering }, p)));
      if (mine !== seq) return;
      const rows = data.results.map((u) => h("tr", {},
        h("td", {}, h("a", { href: "#/users/" + u.id }, u.username)),
        h("td", {}, fullName(u)),
        h("td", {}, u.email),
        h("td", {}, h("span", { class: "badge " + (u.isActive ? "ok" : "off") }, u.isActive ? "active" : "inactive"))));
      // Searches are ordered by relevance: their headers do not sort.
      const head = searching ? ["Username", "Name", "Email", "Status"].map((c) => h("th", { scope: "col" }, c))
        : [sortHeader("Username", "username", st.ordering, sortBy),
          sortHeader("Name", "lastName", st.ordering, sortBy),
          sortHeader("Email", "email", st.ordering, sortBy), h("th", { scope: "col" }, "Status")];
      fill(results,
        h("div", { class: "table-wrap" }, h("table", { id: "users-table" }, h("thead", {}, h("tr", {}, head)),
          h("tbody", {}, rows.length ? rows : emptyRow(4, "No users match.")))),
        pager({ page: st.page, size: st.size }, data, (pg, sz) => { st.page = pg; st.size = sz; load(); }, "User pages"));
    } catch (err) {
      if (mine !== seq) return;
      if (err.status === 404 && st.page > 1) { st.page = 1; load(); return; }
      fill(results, h("p", { class: "form-error" }, err.message));
    } finally {
      if (mine === seq) results.setAttribute("aria-busy", "false");
    }
  }

  search.addEventListener("input", debounce(() => {
    if (!search.isConnected) return; // the user left the list meanwhile
    st.q = search.value; st.page = 1; load();
  }, 250));
  ordering.addEventListener("change", () => sortBy(ordering.value));
  active.addEventListener("change", () => { st.isActive = active.value; st.page = 1; load(); });
  load();
  return h("section", {},
    h("h1", { tabindex: "-1" }, "Users"),
    h("div", { class: "toolbar", role: "search" },
      h("div", { class: "field grow" }, h("label", { for: "user-search" }, "Search users"), search),
      h("div", { class: "field" }, h("label", { for: "user-ordering" }, "Order by"), ordering),
      h("div", { class: "field" }, h("label", { for: "user-active" }, "Status"), active)),
    results,
    state.me.isAdmin ? userCreateForm() : null);
}

// userCreateForm creates a person (admins): username and email required,
// an optional first password; then opens the new user.
function userCreateForm() {
  const form = h("form", { class: "card", id: "user-create", novalidate: true },
    h("h2", {}, "New user"),
    h("div", { class: "grid" },
      field("username", "Username", { required: true, autocomplete: "off", autocapitalize: "none" }),
      field("email", "Email", { type: "email", required: true, autocomplete: "off" }),
      field("firstName", "First name", {}),
      field("lastName", "Last name", {}),
      field("password", "Password", { type: "password", autocomplete: "new-password" }, "Optional: at least 8 characters. Empty: the user cannot sign in with a password until one is set.")),
    h("div", { class: "check" },
      h("input", { type: "checkbox", id: "f-new-isAdmin", name: "isAdmin" }),
      h("label", { for: "f-new-isAdmin" }, "Administrator")),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", id: "user-create-submit" }, "Create user"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const f of ["username", "email", "firstName", "lastName", "password"]) if (form.elements[f].value) body[f] = form.elements[f].value;
    if (form.elements.isAdmin.checked) body.isAdmin = true;
    $(".form-error", form).textContent = "";
    showFieldErrors(form, null);
    try {
      const { data } = await api("POST", "users", body);
      location.hash = "#/users/" + data.id;
    } catch (err) { formError(form, err); }
  });
  return form;
}

const PROFILE_FIELDS = ["username", "email", "firstName", "lastName", "bio", "avatarUrl", "timezone", "locale"];

function viewUser(id) {
  const root = h("section", {}, h("h1", { tabindex: "-1" }, "User"), h("p", {}, "Loading…"));
  (async () => {
    let user, etag;
    try {
      ({ data: user, etag } = await api("GET", "users/" + id));
    } catch (err) {
      fill(root, h("h1", { tabindex: "-1" }, "User"), h("p", { class: "form-error" }, err.message));
      return;
    }
    const me = state.me;
    const canEdit = me.isAdmin || me.id === user.id;
    const title = h("h1", { tabindex: "-1" }, user.username, " ",
      h("span", { class: "badge " + (user.isActive ? "ok" : "off"), id: "user-state" }, user.isActive ? "active" : "inactive"),
      user.isAdmin ? h("span", { class: "badge admin" }, "admin") : null,
      user.isService ? h("span", { class: "badge" }, "service account") : null);

    const form = h("form", { id: "profile-form", class: "card", novalidate: true },
      h("h2", {}, "Profile"),
      h("fieldset", { disabled: !canEdit },
        h("legend", { class: "sr-only" }, "Profile of " + user.username),
        h("div", { class: "grid" },
          field("username", "Username", { value: user.username, autocomplete: "off" }),
          field("email", "Email", { type: "email", value: user.email, autocomplete: "off" }),
          field("firstName", "First name", { value: user.firstName }),
          field("lastName", "Last name", { value: user.lastName }),
          field("timezone", "Time zone", { value: user.timezone }, "An IANA name, such as Europe/Paris."),
          field("locale", "Locale", { value: user.locale }),
          field("avatarUrl", "Avatar URL", { type: "url", value: user.avatarUrl })),
        field("bio", "Bio", { tag: "textarea", rows: 3, value: user.bio }),
        me.isAdmin ? h("div", { class: "check" },
          h("input", { type: "checkbox", id: "f-isAdmin", name: "isAdmin", checked: user.isAdmin }),
          h("label", { for: "f-isAdmin" }, "Administrator"),
          h("p", { class: "field-error", id: "err-isAdmin" })) : null),
      h("p", { class: "form-error", id: "profile-error", role: "alert" }),
      canEdit ? h("div", { class: "actions" }, h("button", { type: "submit", id: "profile-save" }, "Save changes")) : null,
      h("dl", { class: "facts" },
        h("dt", {}, "Joined"), h("dd", {}, fmtTime(user.dateJoined)),
        h("dt", {}, "Last login"), h("dd", {}, fmtTime(user.lastLogin)),
        h("dt", {}, "Last active"), h("dd", {}, fmtTime(user.lastActiveAt))));

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const patch = {};
      for (const f of PROFILE_FIELDS) if (form.elements[f].value !== user[f]) patch[f] = form.elements[f].value;
      if (form.elements.isAdmin && form.elements.isAdmin.checked !== user.isAdmin) patch.isAdmin = form.elements.isAdmin.checked;
      $("#profile-error").textContent = "";
      showFieldErrors(form, null);
      if (!Object.keys(patch).length) { setStatus("Nothing to save."); return; }
      try {
        ({ data: user, etag } = await api("PATCH", "users/" + id, patch, etag ? { "If-Match": etag } : {}));
        if (me.id === user.id) Object.assign(state.me, user);
        setStatus("Saved.", "ok");
        title.firstChild.textContent = user.username;
      } catch (err) {
        if (err.status === 412) {
          $("#profile-error").textContent = "Someone changed this user since you opened it. Reload the page to see their changes.";
        } else formError(form, err, $("#profile-error"));
      }
    });

    fill(root, title, h("div", { class: "user-layout" },
      h("div", {}, form,
        me.isAdmin ? adminActions(user, (u, e) => { user = u; etag = e; }) : null,
        canEdit && !user.isService ? passwordCard(user, me) : null,
        userGroups(user), activeWorkspaces(id),
        me.isAdmin || me.id === user.id ? tokensCard(user, me) : null),
      h("div", {}, activityFeed(id))));
  })();
  return root;
}

function adminActions(user, updated) {
  const stateBtn = h("button", { type: "button", class: "secondary", id: "toggle-active" },
    user.isActive ? "Deactivate" : "Reactivate");
  stateBtn.addEventListener("click", async () => {
    if (user.isActive && !await confirmDialog("Deactivate " + user.username + "?",
      "They can no longer sign in, and their tokens and streams stop working until an admin reactivates them.", "Deactivate")) return;
    try {
      const { data, etag } = await api("PATCH", "users/" + user.id, { isActive: !user.isActive });
      user = data;
      updated(data, etag);
      stateBtn.textContent = data.isActive ? "Deactivate" : "Reactivate";
      const badge = $("#user-state");
      badge.textContent = data.isActive ? "active" : "inactive";
      badge.className = "badge " + (data.isActive ? "ok" : "off");
      setStatus(data.isActive ? "The user is active again." : "The user is deactivated; their tokens no longer work.", "ok");
    } catch (err) { fail(err); }
  });

  const dialog = h("dialog", { id: "delete-dialog", "aria-labelledby": "delete-title" },
    h("form", { method: "dialog" },
      h("h2", { id: "delete-title" }, "Delete " + user.username + "?"),
      h("p", {}, "The user is removed for good: their tokens stop working and their memberships and grants go. " +
        "Their past activities stay in workspace feeds."),
      h("div", { class: "actions" },
        h("button", { value: "cancel", class: "secondary", autofocus: true }, "Cancel"),
        h("button", { value: "delete", class: "danger", id: "delete-confirm" }, "Delete user"))));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api("DELETE", "users/" + user.id);
      setStatus("Deleted " + user.username + ".", "ok");
      location.hash = "#/users";
    } catch (err) { fail(err); }
  });
  const delBtn = h("button", { type: "button", class: "danger", id: "delete-user", onclick: () => { dialog.returnValue = ""; dialog.showModal(); } }, "Delete…");
  return h("div", { class: "card actions-card" }, h("h2", {}, "Account"), h("div", { class: "actions" }, stateBtn, delBtn), dialog);
}

// passwordCard sets a password: one's own with the current password, or
// (admins) anyone else's without it. The API keeps the session that made
// the change and ends the user's other sessions.
function passwordCard(user, me) {
  const own = me.id === user.id;
  const form = h("form", { class: "card", id: "password-form", novalidate: true },
    h("h2", {}, own ? "Change your password" : "Set a password"),
    own ? null : h("p", { class: "hint" }, "As an admin you set " + user.username + "'s password without knowing the old one; they sign in with the new one."),
    h("div", { class: "grid" },
      own ? field("currentPassword", "Current password", { type: "password", autocomplete: "current-password" }) : null,
      field("password", "New password", { type: "password", autocomplete: "new-password" }, "At least 8 characters.")),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", id: "password-submit" }, own ? "Change password" : "Set password"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { password: form.elements.password.value };
    if (own) body.currentPassword = form.elements.currentPassword.value;
    $(".form-error", form).textContent = "";
    showFieldErrors(form, null);
    try {
      await api("PATCH", "users/" + user.id, body);
      form.reset();
      setStatus(own ? "Your password is changed." : "The password of " + user.username + " is set.", "ok");
    } catch (err) { formError(form, err); }
  });
  return form;
}

// tokensCard lists a user's sign-in sessions and access tokens (one's own,
// or anyone's for admins), with revocation.
function tokensCard(user, me) {
  const own = me.id === user.id;
  const box = h("div", { id: "user-token-results" });
  const reload = pagedList(box, async (p) => (await api("GET", (own ? "tokens" : `users/${user.id}/tokens`) + qs(p))).data, (data) => {
    const current = (token() || "").slice(0, 8);
    const rows = data.results.map((t) => {
      const isCurrent = own && t.kind === "session" && t.prefix === current;
      return h("tr", { "data-token": t.id },
        h("td", {}, t.kind === "session" ? "sign-in session" : t.name || "—"), h("td", {}, h("code", {}, t.prefix + "…")),
        h("td", {}, fmtTime(t.createdAt)), h("td", {}, fmtTime(t.lastUsedAt)), h("td", {}, fmtTime(t.expiresAt)),
        h("td", {}, isCurrent ? h("span", { class: "hint" }, "this session") : h("button", { type: "button", class: "secondary small",
          "aria-label": "Revoke " + (t.name || t.prefix), onclick: async () => {
            if (!await confirmDialog("Revoke this " + (t.kind === "session" ? "session" : "token") + "?",
              "Whoever holds " + t.prefix + "… can no longer use it.", "Revoke")) return;
            try { await api("DELETE", "tokens/" + t.id); setStatus("Revoked " + (t.name || t.prefix) + ".", "ok"); reload(); } catch (err) { fail(err); }
          } }, "Revoke")));
    });
    return table(["Token", "Prefix", "Created", "Last used", "Expires", ""], rows.length ? rows : emptyRow(6, "No sessions or tokens."), { id: "user-tokens-table" });
  }, "Token pages", 10);
  reload();
  return h("div", { class: "card", id: "user-tokens" },
    h("div", { class: "card-head" }, h("h2", {}, "Sessions and tokens"),
      h("a", { href: own ? "#/tokens" : "#/tokens?user=" + user.id }, "Manage tokens")), box);
}

function userGroups(user) {
  const items = (user.groups || []).map((g) => h("li", {}, h("a", { href: "#/groups/" + g.id }, g.name)));
  return h("div", { class: "card" }, h("h2", {}, "Groups"),
    items.length ? h("ul", { id: "user-groups" }, items) : h("p", { class: "empty" }, "Not in any group."));
}

function activeWorkspaces(id) {
  const box = h("div", { class: "card", id: "active-workspaces" }, h("h2", {}, "Active workspaces"), h("p", {}, "Loading…"));
  (async () => {
    try {
      const { data } = await api("GET", `users/${id}/activeworkspaces` + qs({ page_size: 50 }));
      const rows = data.results.map((w) => h("tr", {},
        h("td", {}, h("a", { href: "#/workspaces/" + w.id }, w.name)),
        h("td", {}, w.role), h("td", {}, w.via.join(", ")), h("td", {}, w.activityCount),
        h("td", {}, fmtTime(w.lastActiveAt))));
      fill(box, h("h2", {}, "Active workspaces"), h("p", { class: "hint" }, "Workspaces they acted in during the last 30 days."),
        table(["Workspace", "Role", "Via", "Activities", "Last active"], rows.length ? rows : emptyRow(5, "None.")));
    } catch (err) { fill(box, h("h2", {}, "Active workspaces"), h("p", { class: "form-error" }, err.message)); }
  })();
  return box;
}

function activityItem(a, fresh) {
  const obj = a.object ? [a.object.name || a.object.id, " (", a.object.type, ")"] : null;
  return h("li", { class: "activity" + (fresh ? " fresh" : ""), "data-id": a.id },
    h("time", { datetime: a.published }, fmtTime(a.published)), " ",
    h("strong", {}, a.actor.username || "deleted user"), " ",
    h("code", {}, a.verb), " ", obj, " ",
    a.workspace ? ["in ", h("a", { href: "#/workspaces/" + a.workspace.id }, a.workspace.name)] : null);
}

// activityFeed lists a user's activities, newest first, and keeps the list
// current through the SSE stream while "Live" is on. The stream resumes
// after the newest activity loaded, so nothing falls between the two.
function activityFeed(id) {
  const list = h("ol", { id: "activity-list", class: "feed", "aria-live": "polite" });
  const seen = new Set();
  const liveState = h("span", { id: "live-state", class: "live", "data-state": "off" }, "Off");
  const liveBtn = h("button", { type: "button", class: "secondary", id: "live-toggle", "aria-pressed": "false" }, "Live");
  const more = h("button", { type: "button", class: "secondary", id: "feed-more", hidden: true }, "Older activities");
  let es = null;
  let newest = 0;
  let oldest = 0;

  function add(a, atTop, fresh) {
    if (seen.has(a.id)) return;
    seen.add(a.id);
    newest = Math.max(newest, a.id);
    oldest = oldest ? Math.min(oldest, a.id) : a.id;
    const empty = $(".empty", list);
    if (empty) empty.remove();
    const item = activityItem(a, fresh);
    if (atTop) list.prepend(item); else list.append(item);
  }

  function setLive(s, label) { liveState.dataset.state = s; liveState.textContent = label; }

  function start() {
    stop();
    const url = API + `users/${id}/stream` + qs({ access_token: token(), lastEventId: newest });
    es = new EventSource(url);
    setLive("connecting", "Connecting…");
    liveBtn.setAttribute("aria-pressed", "true");
    es.addEventListener("open", () => setLive("open", "Live"));
    es.addEventListener("activity", (ev) => {
      try { add(JSON.parse(ev.data), true, true); } catch (e) { /* ignore a malformed event */ }
    });
    es.addEventListener("error", () => {
      if (!es) return;
      if (es.readyState === EventSource.CLOSED) {
        stop();
        setLive("off", "Stopped (sign in again or reload)");
      } else {
        setLive("connecting", "Reconnecting…");
      }
    });
  }

  function stop() {
    if (es) { es.close(); es = null; }
    setLive("off", "Off");
    liveBtn.setAttribute("aria-pressed", "false");
  }

  liveBtn.addEventListener("click", () => (es ? stop() : start()));
  state.cleanup.push(stop);

  async function loadOlder() {
    try {
      const { data } = await api("GET", `users/${id}/activities` + qs({ page_size: PAGE_SIZE, before: oldest || "" }));
      data.results.forEach((a) => add(a, false, false));
      more.hidden = !data.next;
      if (!seen.size) fill(list, h("li", { class: "empty" }, "No activity yet."));
    } catch (err) { fail(err); }
  }
  more.addEventListener("click", loadOlder);

  loadOlder().then(() => { if (token()) start(); });
  return h("div", { class: "card", id: "activity" },
    h("div", { class: "card-head" }, h("h2", {}, "Activity"),
      h("div", { class: "live-box" }, liveBtn, " ", liveState)),
    list, more);
}

// ---- workspaces ----------------------------------------------------------

// searchBox is a list's search field: it calls onSearch(text) as one
// types (debounced).
function searchBox(id, label, placeholder, value, onSearch) {
  const input = h("input", { id, type: "search", autocomplete: "off", placeholder, value });
  // A search typed just before leaving the page must not rewrite the next
  // page's address: only a field still on the page searches.
  input.addEventListener("input", debounce(() => { if (input.isConnected) onSearch(input.value.trim()); }, 250));
  return h("div", { class: "toolbar", role: "search" }, h("div", { class: "field grow" }, h("label", { for: id }, label), input));
}

function viewWorkspaces(params) {
  let q = params.get("q") || "";
  const results = h("div", { id: "workspace-results", "aria-live": "polite" });
  const reload = pagedList(results, async (p) => (await api("GET", "workspaces" + qs(Object.assign({ q }, p)))).data, (data) => {
    const rows = data.results.map((w) => h("tr", {},
      h("td", {}, h("a", { href: "#/workspaces/" + w.id }, w.name)), h("td", {}, w.slug), h("td", {}, fmtTime(w.createdAt))));
    return table(["Name", "Slug", "Created"], rows.length ? rows : emptyRow(3, q ? "No workspaces match." : "No workspaces you can see."), { id: "workspaces-table" });
  }, "Workspace pages");
  reload();
  const parts = [h("h1", { tabindex: "-1" }, "Workspaces"),
    searchBox("workspace-search", "Search workspaces", "Name or slug", q, (v) => {
      q = v;
      history.replaceState(null, "", "#/workspaces" + qs({ q }));
      reload(true);
    }), results];
  if (state.me.isAdmin) {
    const form = h("form", { class: "card", id: "workspace-create", novalidate: true },
      h("h2", {}, "New workspace"),
      h("div", { class: "grid" }, field("name", "Name", { required: true }), field("slug", "Slug", {}, "Derived from the name when empty.")),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit" }, "Create workspace"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: form.elements.name.value };
      if (form.elements.slug.value) body.slug = form.elements.slug.value;
      try {
        const { data } = await api("POST", "workspaces", body);
        location.hash = "#/workspaces/" + data.id;
      } catch (err) { formError(form, err); }
    });
    parts.push(form);
  }
  return h("section", {}, parts);
}

// groupPicker is a search-as-you-type choice of one group (by name), for
// any number of groups: it asks the API for the names that match.
function groupPicker(id, label) {
  const list = h("datalist", { id: id + "-list" });
  const input = h("input", { id, name: "group", type: "text", autocomplete: "off", list: id + "-list", placeholder: "Group name" });
  const found = new Map();
  input.addEventListener("input", debounce(async () => {
    const q = input.value.trim();
    if (!q) return;
    try {
      const { data } = await api("GET", "groups" + qs({ q, page_size: 20 }));
      for (const g of data.results) found.set(g.name.toLowerCase(), g);
      fill(list, ...data.results.map((g) => h("option", { value: g.name }, `${g.memberCount} members`)));
    } catch (e) { /* suggestions are best effort */ }
  }, 200));
  // resolve finds the typed group by its exact name (any case).
  async function resolve() {
    const name = input.value.trim().toLowerCase();
    if (!name) return null;
    if (found.has(name)) return found.get(name);
    const { data } = await api("GET", "groups" + qs({ q: name, page_size: 100 }));
    return data.results.find((g) => g.name.toLowerCase() === name) || null;
  }
  return { field: h("div", { class: "field" }, h("label", { for: id }, label), input, list), input, resolve };
}

// renameForm edits a name (and a slug) in place; save(body) returns the
// updated object.
function renameForm(id, obj, fields, save) {
  const form = h("form", { class: "inline-form", id, novalidate: true },
    h("div", { class: "toolbar" },
      fields.map(([name, label]) => {
        const f = field(name, label, { value: obj[name], autocomplete: "off" });
        f.classList.add("grow");
        return f;
      }),
      h("div", { class: "field end" }, h("button", { type: "submit", class: "secondary" }, "Save"))),
    h("p", { class: "form-error", role: "alert" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [name] of fields) if (form.elements[name].value !== obj[name]) body[name] = form.elements[name].value;
    $(".form-error", form).textContent = "";
    showFieldErrors(form, null);
    if (!Object.keys(body).length) { setStatus("Nothing to save."); return; }
    try { await save(body); } catch (err) { formError(form, err); }
  });
  return form;
}

// activityTable is a paginated feed of activities from path (a workspace's
// or the whole site's), with the API's filters.
function activityTable(path, opts) {
  const f = { verb: "", since: "", until: "", actor: "", workspace: "" };
  const box = h("div", { id: (opts && opts.id) || "activity-results", "aria-live": "polite" });
  const actorInput = h("input", { id: "af-actor", type: "text", autocomplete: "off", placeholder: "username" });
  const form = h("form", { class: "toolbar filters", id: "activity-filters", novalidate: true },
    opts && opts.site ? [
      h("div", { class: "field" }, h("label", { for: "af-actor" }, "Actor"), actorInput),
      h("div", { class: "field" }, h("label", { for: "af-workspace" }, "Workspace id"),
        h("input", { id: "af-workspace", name: "workspace", type: "number", min: 1, inputmode: "numeric" })),
    ] : null,
    h("div", { class: "field" }, h("label", { for: "af-verb" }, "Verb"),
      h("input", { id: "af-verb", name: "verb", type: "text", autocomplete: "off", placeholder: "user.* or document.created" })),
    h("div", { class: "field" }, h("label", { for: "af-since" }, "Since"), h("input", { id: "af-since", name: "since", type: "date" })),
    h("div", { class: "field" }, h("label", { for: "af-until" }, "Until"), h("input", { id: "af-until", name: "until", type: "date" })),
    h("div", { class: "field end" }, h("button", { type: "submit", class: "secondary" }, "Filter")),
    h("p", { class: "form-error", role: "alert", id: "activity-filter-error" }));
  const day = (v, end) => v ? new Date(v + (end ? "T23:59:59.999" : "T00:00:00")).toISOString() : "";
  const reload = pagedList(box, async (p) => (await api("GET", path + qs(Object.assign({}, f, p)))).data, (data) => {
    const rows = data.results.map((a) => h("tr", { "data-activity": a.id },
      h("td", {}, h("time", { datetime: a.published }, fmtTime(a.published))),
      h("td", {}, a.actor.username ? h("a", { href: "#/users/" + a.actor.id }, a.actor.username) : "deleted user #" + a.actor.id),
      h("td", {}, h("code", {}, a.verb)),
      h("td", {}, a.object ? [a.object.name || a.object.id, " (", a.object.type, ")"] : "—"),
      h("td", {}, a.workspace ? h("a", { href: "#/workspaces/" + a.workspace.id }, a.workspace.name) : "—")));
    return table(["When", "Actor", "Verb", "Object", "Workspace"], rows.length ? rows : emptyRow(5, "No activities match."), { id: (opts && opts.tableId) || "activity-table" });
  }, "Activity pages");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("#activity-filter-error", form);
    err.textContent = "";
    f.verb = form.elements.verb.value.trim();
    f.since = day(form.elements.since.value, false);
    f.until = day(form.elements.until.value, true);
    if (opts && opts.site) {
      f.workspace = form.elements.workspace.value;
      f.actor = "";
      if (actorInput.value.trim()) {
        try {
          const u = await findUserByUsername(actorInput.value);
          if (!u) { err.textContent = `No user named "${actorInput.value.trim()}".`; return; }
          f.actor = u.id;
        } catch (e) { err.textContent = e.message; return; }
      }
    }
    reload(true).catch(() => {});
  });
  reload(true); // a bad filter's 400 shows in place of the table
  return h("div", {}, form, box);
}

function viewWorkspace(id) {
  const root = h("section", {}, h("h1", { tabindex: "-1" }, "Workspace"), h("p", {}, "Loading…"));
  const membersBox = h("div", { class: "card", id: "workspace-members" });
  const grantsBox = h("div", { class: "card", id: "workspace-grants" });
  const membersList = h("div", { id: "members-results" });
  const grantsList = h("div", { id: "grants-results" });
  let ws, canManage = false;

  const reloadMembers = pagedList(membersList, async (p) => (await api("GET", `workspaces/${id}/members` + qs(p))).data, (data) => {
    const rows = data.results.map((m) => h("tr", {},
      h("td", {}, h("a", { href: "#/users/" + m.id }, m.username)), h("td", {}, fullName(m)),
      h("td", {}, m.role), h("td", {}, m.via.join(", "))));
    return table(["Username", "Name", "Role", "Via"], rows.length ? rows : emptyRow(4, "No members."), { id: "members-table" });
  }, "Member pages");

  function grantPath(s) { return `workspaces/${id}/permissions/${s.type === "user" ? "users" : "groups"}/${s.id}`; }

  function reloadAll() { reloadMembers(); reloadGrants(); }

  const reloadGrants = pagedList(grantsList, async (p) => (await api("GET", `workspaces/${id}/permissions` + qs(p))).data, (data) => {
    const rows = data.results.map((g) => {
      const label = `${g.subject.type} ${g.subject.name}`;
      const sel = roleSelect(g.role, { "aria-label": "Role of " + label, disabled: !canManage });
      sel.addEventListener("change", async () => {
        try {
          await api("PUT", grantPath(g.subject), { role: sel.value });
          setStatus(`${label} is now ${sel.value}.`, "ok");
          reloadAll();
        } catch (err) { fail(err); }
      });
      return h("tr", { "data-subject": g.subject.type + ":" + g.subject.name },
        h("td", {}, g.subject.type),
        h("td", {}, h("a", { href: (g.subject.type === "user" ? "#/users/" : "#/groups/") + g.subject.id }, g.subject.name)),
        h("td", {}, sel),
        h("td", {}, canManage ? h("button", { type: "button", class: "secondary small", "aria-label": "Revoke " + label,
          onclick: async () => {
            if (!await confirmDialog("Revoke the grant of " + label + "?",
              `${g.subject.name} loses the ${g.role} role in ${ws.name} (unless another grant gives access).`, "Revoke")) return;
            try { await api("DELETE", grantPath(g.subject)); setStatus(`Revoked the grant of ${label}.`, "ok"); reloadAll(); } catch (err) { fail(err); }
          } }, "Revoke") : null));
    });
    return table(["Type", "Subject", "Role", ""], rows.length ? rows : emptyRow(4, "No grants."), { id: "grants-table" });
  }, "Grant pages");

  function grantForm() {
    const kind = h("select", { id: "grant-type", name: "type" },
      h("option", { value: "user" }, "User"), h("option", { value: "group" }, "Group"));
    const userField = userPicker("grant-user", "Username");
    const groups = groupPicker("grant-group", "Group");
    groups.field.hidden = true;
    kind.addEventListener("change", () => {
      const isGroup = kind.value === "group";
      userField.hidden = isGroup;
      $("input", userField).required = !isGroup;
      groups.field.hidden = !isGroup;
    });
    const form = h("form", { id: "grant-form", class: "inline-form", novalidate: true },
      h("h3", {}, "Grant a role"),
      h("div", { class: "toolbar" },
        h("div", { class: "field" }, h("label", { for: "grant-type" }, "Grant to"), kind),
        userField, groups.field,
        h("div", { class: "field" }, h("label", { for: "grant-role" }, "Role"), roleSelect("member", { id: "grant-role", name: "role" })),
        h("div", { class: "field end" }, h("button", { type: "submit", id: "grant-submit" }, "Grant"))),
      h("p", { class: "form-error", role: "alert", id: "grant-error" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = $("#grant-error", form);
      err.textContent = "";
      try {
        let path;
        if (kind.value === "user") {
          const name = $("input", userField).value;
          const u = await findUserByUsername(name);
          if (!u) { err.textContent = `No user named "${name.trim()}".`; return; }
          path = `workspaces/${id}/permissions/users/${u.id}`;
        } else {
          const g = await groups.resolve();
          if (!g) { err.textContent = groups.input.value.trim() ? `No group named "${groups.input.value.trim()}".` : "Choose a group."; return; }
          path = `workspaces/${id}/permissions/groups/${g.id}`;
        }
        const { data } = await api("PUT", path, { role: form.elements.role.value });
        setStatus(`Granted ${data.role} to ${data.subject.type} ${data.subject.name}.`, "ok");
        reloadAll();
      } catch (e) { err.textContent = e.message; }
    });
    return form;
  }

  function manageCard() {
    const del = h("button", { type: "button", class: "danger", id: "workspace-delete", onclick: async () => {
      if (!await confirmDialog("Delete " + ws.name + "?",
        "The workspace and its grants go for good. Its activities stay in their actors' feeds, without a workspace.", "Delete workspace")) return;
      try {
        await api("DELETE", "workspaces/" + id);
        location.hash = "#/workspaces";
        setStatus("Deleted " + ws.name + ".", "ok");
      } catch (err) { fail(err); }
    } }, "Delete…");
    return h("div", { class: "card", id: "workspace-manage" }, h("h2", {}, "Settings"),
      renameForm("workspace-rename", ws, state.me.isAdmin ? [["name", "Name"], ["slug", "Slug"]] : [["name", "Name"]], async (body) => {
        ({ data: ws } = await api("PATCH", "workspaces/" + id, body));
        $("h1", root).firstChild.textContent = ws.name;
        $("h1 .badge", root).textContent = ws.slug;
        setStatus("Saved.", "ok");
      }),
      h("div", { class: "actions" }, del));
  }

  (async () => {
    let mine = null;
    try {
      ({ data: ws } = await api("GET", "workspaces/" + id));
      if (!state.me.isAdmin) {
        // The caller's own role: the members list filtered to them is not
        // an API query, so look for them on the pages of members.
        for (let page = 1; !mine; page++) {
          const { data } = await api("GET", `workspaces/${id}/members` + qs({ page, page_size: 1000 }));
          mine = data.results.find((m) => m.id === state.me.id) || null;
          if (!data.next) break;
        }
      }
    } catch (err) {
      fill(root, h("h1", { tabindex: "-1" }, "Workspace"), h("p", { class: "form-error" }, err.message));
      return;
    }
    canManage = state.me.isAdmin || (mine && mine.role === "admin");
    fill(membersBox, h("h2", {}, "Members"),
      h("p", { class: "hint" }, "Everyone with access, with their effective role and where it comes from."), membersList);
    fill(grantsBox, h("h2", {}, "Grants"), grantsList, canManage ? grantForm() : null);
    fill(root, h("h1", { tabindex: "-1" }, ws.name, " ", h("span", { class: "badge" }, ws.slug)),
      h("p", { class: "hint" }, "Created " + fmtTime(ws.createdAt)),
      canManage ? manageCard() : null,
      h("div", { class: "columns" }, membersBox, grantsBox),
      h("div", { class: "card", id: "workspace-activity" }, h("h2", {}, "Activity"),
        activityTable(`workspaces/${id}/activities`, { id: "workspace-activity-results", tableId: "workspace-activity-table" })));
    reloadAll();
  })();
  return root;
}

// viewActivity is the site-wide activity view: for admins every activity
// (the audit log), for others what they may see.
function viewActivity() {
  return h("section", {}, h("h1", { tabindex: "-1" }, state.me.isAdmin ? "Audit log" : "Activity"),
    h("p", { class: "hint" }, state.me.isAdmin ? "Every activity: sign-ins, changes to users, groups, workspaces, tokens and webhooks, and what clients post."
      : "The activities you may see: yours and those in your workspaces."),
    h("div", { class: "card" }, activityTable("activities", { site: true, tableId: "audit-table" })));
}

// ---- groups --------------------------------------------------------------

function viewGroups(params) {
  let q = params.get("q") || "";
  const results = h("div", { id: "group-results", "aria-live": "polite" });
  const reload = pagedList(results, async (p) => (await api("GET", "groups" + qs(Object.assign({ q }, p)))).data, (data) => {
    const rows = data.results.map((g) => h("tr", {},
      h("td", {}, h("a", { href: "#/groups/" + g.id }, g.name)), h("td", {}, g.memberCount)));
    return table(["Name", "Members"], rows.length ? rows : emptyRow(2, q ? "No groups match." : "No groups."), { id: "groups-table" });
  }, "Group pages");
  reload();
  const parts = [h("h1", { tabindex: "-1" }, "Groups"),
    searchBox("group-search", "Search groups", "Name", q, (v) => {
      q = v;
      history.replaceState(null, "", "#/groups" + qs({ q }));
      reload(true);
    }), results];
  if (state.me.isAdmin) {
    const form = h("form", { class: "card", id: "group-create", novalidate: true },
      h("h2", {}, "New group"), field("name", "Name", { required: true }),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit" }, "Create group"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const { data } = await api("POST", "groups", { name: form.elements.name.value });
        location.hash = "#/groups/" + data.id;
      } catch (err) { formError(form, err); }
    });
    parts.push(form);
  }
  return h("section", {}, parts);
}

function viewGroup(id) {
  const root = h("section", {}, h("h1", { tabindex: "-1" }, "Group"), h("p", {}, "Loading…"));
  const membersBox = h("div", { class: "card", id: "group-members" });
  const membersList = h("div", { id: "group-member-results" });
  const title = h("h2", {}, "Members");
  const admin = state.me.isAdmin;
  let g;

  const reloadMembers = pagedList(membersList, async (p) => {
    const { data } = await api("GET", `groups/${id}/members` + qs(p));
    title.textContent = `Members (${data.count})`;
    return data;
  }, (data) => {
    const rows = data.results.map((u) => h("tr", {},
      h("td", {}, h("a", { href: "#/users/" + u.id }, u.username)), h("td", {}, fullName(u)), h("td", {}, u.email),
      admin ? h("td", {}, h("button", { type: "button", class: "secondary small", "aria-label": "Remove " + u.username,
        onclick: async () => {
          if (!await confirmDialog(`Remove ${u.username} from ${g.name}?`,
            "They lose the access the group's grants give them.", "Remove")) return;
          try { await api("DELETE", `groups/${id}/members/${u.id}`); setStatus(`Removed ${u.username}.`, "ok"); reloadMembers(); } catch (err) { fail(err); }
        } }, "Remove")) : null));
    const cols = admin ? ["Username", "Name", "Email", ""] : ["Username", "Name", "Email"];
    return table(cols, rows.length ? rows : emptyRow(cols.length, "No members."), { id: "group-members-table" });
  }, "Member pages");

  function addForm() {
    const picker = userPicker("member-user", "Username");
    const form = h("form", { id: "member-form", class: "inline-form", novalidate: true },
      h("h3", {}, "Add a member"),
      h("div", { class: "toolbar" }, picker, h("div", { class: "field end" }, h("button", { type: "submit" }, "Add"))),
      h("p", { class: "form-error", role: "alert" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = $(".form-error", form);
      err.textContent = "";
      const name = $("input", picker).value;
      try {
        const u = await findUserByUsername(name);
        if (!u) { err.textContent = `No user named "${name.trim()}".`; return; }
        await api("PUT", `groups/${id}/members/${u.id}`);
        setStatus(`Added ${u.username}.`, "ok");
        reloadMembers();
      } catch (e) { err.textContent = e.message; }
    });
    return form;
  }

  function manageCard() {
    const del = h("button", { type: "button", class: "danger", id: "group-delete", onclick: async () => {
      if (!await confirmDialog("Delete " + g.name + "?",
        "The group, its memberships and its workspace grants go for good; its members keep their own grants.", "Delete group")) return;
      try {
        await api("DELETE", "groups/" + id);
        location.hash = "#/groups";
        setStatus("Deleted " + g.name + ".", "ok");
      } catch (err) { fail(err); }
    } }, "Delete…");
    return h("div", { class: "card", id: "group-manage" }, h("h2", {}, "Settings"),
      renameForm("group-rename", g, [["name", "Name"]], async (body) => {
        ({ data: g } = await api("PATCH", "groups/" + id, body));
        $("h1", root).textContent = g.name;
        setStatus("Saved.", "ok");
      }),
      h("div", { class: "actions" }, del));
  }

  (async () => {
    try {
      ({ data: g } = await api("GET", "groups/" + id));
    } catch (err) {
      fill(root, h("h1", { tabindex: "-1" }, "Group"), h("p", { class: "form-error" }, err.message));
      return;
    }
    fill(membersBox, title, membersList, admin ? addForm() : null);
    fill(root, h("h1", { tabindex: "-1" }, g.name), admin ? manageCard() : null, membersBox);
    reloadMembers();
  })();
  return root;
}

// ---- tokens --------------------------------------------------------------

const SCOPES = ["users:read", "users:write", "workspaces:read", "workspaces:write", "groups:read", "groups:write",
  "activities:read", "activities:write", "tokens", "webhooks", "scim"];
const ADMIN_SCOPES = ["webhooks", "scim"];

// copyText copies text to the clipboard, falling back to selecting input.
async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    setStatus("Copied to the clipboard.", "ok");
  } catch (e) {
    input.select();
    setStatus(document.execCommand && document.execCommand("copy")
      ? "Copied to the clipboard." : "Select it and copy it by hand.", "ok");
  }
}

// viewTokens lists, creates and revokes the tokens of one user: the caller,
// or (admins) any user named by ?user=.
function viewTokens(params) {
  const me = state.me;
  const ownerId = me.isAdmin && /^[1-9][0-9]*$/.test(params.get("user") || "") ? Number(params.get("user")) : me.id;
  const mine = ownerId === me.id;
  const base = mine ? "tokens" : "users/" + ownerId + "/tokens";
  const root = h("section", {}, h("h1", { tabindex: "-1" }, "Tokens"), h("p", {}, "Loading…"));
  (async () => {
    let owner = me;
    if (!mine) {
      try { ({ data: owner } = await api("GET", "users/" + ownerId)); } catch (err) {
        fill(root, h("h1", { tabindex: "-1" }, "Tokens"), h("p", { class: "form-error" }, err.message));
        return;
      }
    }
    let page = 1, size = PAGE_SIZE;
    const results = h("div", { id: "token-results", "aria-live": "polite" });
    const secretBox = h("div", { id: "new-token", class: "card", hidden: true });

    async function load() {
      try {
        const { data } = await api("GET", base + qs({ page, page_size: size }));
        const current = (token() || "").slice(0, 8);
        const rows = data.results.map((t) => {
          const isCurrent = mine && t.kind === "session" && t.prefix === current;
          const revoke = isCurrent ? h("span", { class: "hint" }, "this session")
            : h("button", { type: "button", class: "secondary", "data-revoke": t.id, onclick: async () => {
              if (!await confirmDialog("Revoke " + (t.name || t.prefix + "…") + "?",
                "Programs using it get 401 from now on; this cannot be undone.", "Revoke")) return;
              try {
                await api("DELETE", "tokens/" + t.id);
                setStatus("Revoked " + (t.name || t.prefix) + ".", "ok");
                load();
              } catch (err) { fail(err); }
            } }, "Revoke");
          return h("tr", { "data-token": t.id, "data-name": t.name },
            h("td", {}, t.name || "—"), h("td", {}, t.kind), h("td", {}, h("code", {}, t.prefix + "…")),
            h("td", { class: "scopes" }, t.scopes.join(" ")),
            h("td", {}, fmtTime(t.createdAt)), h("td", {}, fmtTime(t.expiresAt)), h("td", {}, fmtTime(t.lastUsedAt)),
            h("td", {}, revoke));
        });
        fill(results, table(["Name", "Kind", "Prefix", "Scopes", "Created", "Expires", "Last used", ""],
          rows.length ? rows : emptyRow(8, "No tokens."), { id: "tokens-table" }),
        pager({ page, size }, data, (p, sz) => { page = p; size = sz; load(); }, "Token pages"));
      } catch (err) { fill(results, h("p", { class: "form-error" }, err.message)); }
    }

    const allowed = SCOPES.filter((sc) => owner.isAdmin || !ADMIN_SCOPES.includes(sc));
    const form = h("form", { class: "card", id: "token-create", novalidate: true },
      h("h2", {}, mine ? "New personal access token" : "New token for " + owner.username),
      field("name", "Name", { required: true, placeholder: "ci-bot" }, "What the token is for."),
      h("fieldset", { id: "f-scopes", name: "scopes" },
        h("legend", {}, "Scopes"),
        h("div", { class: "scope-grid" }, allowed.map((sc) => h("div", { class: "check" },
          h("input", { type: "checkbox", id: "scope-" + sc.replace(":", "-"), name: "scope", value: sc }),
          h("label", { for: "scope-" + sc.replace(":", "-") }, sc)))),
        h("p", { class: "field-error", id: "err-scopes" })),
      field("expiresAt", "Expires on", { type: "date" }, "Empty: in 90 days. At most a year ahead."),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", id: "token-submit" }, "Create token"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: form.elements.name.value,
        scopes: [...form.querySelectorAll('input[name="scope"]:checked')].map((c) => c.value) };
      if (form.elements.expiresAt.value) body.expiresAt = new Date(form.elements.expiresAt.value + "T23:59:59").toISOString();
      $(".form-error", form).textContent = "";
      showFieldErrors(form, null);
      $("#err-scopes").textContent = "";
      try {
        const { data } = await api("POST", base, body);
        const input = h("input", { id: "new-token-secret", type: "text", readonly: true, value: data.token, "aria-label": "The new token" });
        fill(secretBox,
          h("h2", {}, "Token " + data.name + " created"),
          h("p", { class: "notice" }, "Copy it now: it is shown only once."),
          h("div", { class: "toolbar" }, h("div", { class: "field grow" }, input),
            h("button", { type: "button", id: "copy-token", onclick: () => copyText(data.token, input) }, "Copy")));
        secretBox.hidden = false;
        form.reset();
        load();
      } catch (err) {
        formError(form, err);
      }
    });

    const parts = [h("h1", { tabindex: "-1" }, mine ? "My tokens" : "Tokens of " + owner.username,
      owner.isService ? h("span", { class: "badge" }, "service account") : null)];
    if (me.isAdmin) parts.push(tokenOwnerPicker(), serviceAccountForm());
    if (!(mine && me.isService)) parts.push(form);
    parts.push(secretBox, results);
    fill(root, ...parts);
    load();
  })();
  return root;
}

// tokenOwnerPicker lets an admin open any user's tokens.
function tokenOwnerPicker() {
  const form = h("form", { class: "toolbar", id: "token-owner" },
    userPicker("token-owner-user", "Show the tokens of"),
    h("button", { type: "submit", class: "secondary" }, "Show"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const u = await findUserByUsername(form.elements.username.value);
      if (!u) { setStatus("No user " + form.elements.username.value + ".", "error"); return; }
      location.hash = "#/tokens?user=" + u.id;
    } catch (err) { fail(err); }
  });
  return form;
}

// serviceAccountForm creates a service account (admins), then opens its tokens.
function serviceAccountForm() {
  const form = h("form", { class: "card", id: "service-create", novalidate: true },
    h("h2", {}, "New service account"),
    h("p", { class: "hint" }, "A program's identity: it cannot sign in, and holds only the tokens an admin makes for it."),
    h("div", { class: "grid" },
      field("username", "Username", { required: true, autocomplete: "off" }),
      field("email", "Email", { type: "email", required: true })),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", id: "service-submit" }, "Create service account"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const { data } = await api("POST", "users", { username: form.elements.username.value, email: form.elements.email.value, isService: true });
      setStatus("Created the service account " + data.username + "; give it a token below.", "ok");
      location.hash = "#/tokens?user=" + data.id;
    } catch (err) { formError(form, err); }
  });
  return form;
}

// ---- webhooks ------------------------------------------------------------

// secretPanel fills box with a secret shown once, and a copy button.
function secretPanel(box, title, secret) {
  const input = h("input", { id: "new-webhook-secret", type: "text", readonly: true, value: secret, "aria-label": "The webhook secret" });
  fill(box,
    h("h2", {}, title),
    h("p", { class: "notice" }, "Copy the signing secret now: it is shown only once."),
    h("div", { class: "toolbar" }, h("div", { class: "field grow" }, input),
      h("button", { type: "button", id: "copy-webhook-secret", onclick: () => copyText(secret, input) }, "Copy")));
  box.hidden = false;
}

// parseVerbs splits "user.*, document.created" into a list.
function parseVerbs(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

function webhookState(w) {
  if (w.enabled) return h("span", { class: "badge ok", "data-state": "enabled" }, "enabled");
  return h("span", { class: "badge off", "data-state": "disabled", title: w.disabledReason || "" },
    w.disabledReason ? "disabled: " + w.disabledReason : "disabled");
}

function httpStatus(status) {
  if (status === null || status === undefined) return h("span", { class: "badge off" }, "no answer");
  return h("span", { class: "badge " + (status >= 200 && status < 300 ? "ok" : "fail") }, String(status));
}

const VERBS_HINT = "Separated by spaces or commas; a prefix ending in .* matches a family. Empty: every activity.";

// workspaceChoice is the webhook forms' workspace field: a select of every
// workspace (names maps their ids to names once ready resolves).
function workspaceChoice(selected) {
  const names = new Map();
  const select = h("select", { id: "f-workspace", name: "workspace", "aria-describedby": "err-workspace" },
    h("option", { value: "" }, "Every workspace"));
  const ready = (async () => {
    try {
      for (let page = 1; ; page++) {
        const { data } = await api("GET", "workspaces" + qs({ page, page_size: 100 }));
        for (const ws of data.results) names.set(ws.id, ws.name);
        append(select, data.results.map((ws) => h("option", { value: ws.id }, ws.name)));
        if (!data.next) break;
      }
      if (selected !== null && selected !== undefined) select.value = String(selected);
    } catch (err) { fail(err); }
  })();
  const el = h("div", { class: "field" }, h("label", { for: "f-workspace" }, "Workspace"), select,
    h("p", { class: "field-error", id: "err-workspace" }));
  return { names, select, ready, field: el };
}

// viewWebhooks lists the webhooks and creates one (admins only).
function viewWebhooks(params) {
  let page = Math.max(1, parseInt(params.get("page"), 10) || 1), size = PAGE_SIZE;
  const results = h("div", { id: "webhook-results", "aria-live": "polite" });
  const secretBox = h("div", { id: "new-webhook", class: "card", hidden: true });
  const workspaces = workspaceChoice(null);
  const names = workspaces.names;

  async function load() {
    try {
      const { data } = await api("GET", "webhooks" + qs({ page, page_size: size }));
      const rows = data.results.map((w) => h("tr", { "data-webhook": w.id },
        h("td", {}, h("a", { href: "#/webhooks/" + w.id }, w.url), w.description ? h("p", { class: "hint" }, w.description) : null),
        h("td", { class: "scopes" }, w.verbs.length ? w.verbs.join(" ") : "all"),
        h("td", {}, w.workspace === null ? "all" : h("a", { href: "#/workspaces/" + w.workspace }, names.get(w.workspace) || "#" + w.workspace)),
        h("td", {}, webhookState(w)),
        h("td", {}, fmtTime(w.lastDeliveryAt), " ", w.lastDeliveryAt ? httpStatus(w.lastStatus) : null),
        h("td", {}, fmtTime(w.failingSince))));
      fill(results, table(["URL", "Verbs", "Workspace", "State", "Last delivery", "Failing since"],
        rows.length ? rows : emptyRow(6, "No webhooks."), { id: "webhooks-table" }),
      pager({ page, size }, data, (p, sz) => { page = p; size = sz; load(); }, "Webhook pages"));
    } catch (err) {
      if (err.status === 404 && page > 1) { page = 1; load(); return; }
      fill(results, h("p", { class: "form-error" }, err.message));
    }
  }

  const form = h("form", { class: "card", id: "webhook-create", novalidate: true },
    h("h2", {}, "New webhook"),
    field("url", "URL", { type: "url", required: true, autocomplete: "off" },
      "An http(s) URL without credentials. Roster POSTs each matching activity to it, signed (Standard Webhooks)."),
    field("description", "Description", { tag: "textarea", rows: 2 }),
    h("div", { class: "grid" },
      field("verbs", "Verbs", { placeholder: "user.* document.created", autocomplete: "off" }, VERBS_HINT),
      workspaces.field),
    h("div", { class: "check" },
      h("input", { type: "checkbox", id: "f-enabled", name: "enabled", checked: "checked", "aria-describedby": "err-enabled" }),
      h("label", { for: "f-enabled" }, "Enabled"),
      h("p", { class: "field-error", id: "err-enabled" })),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", id: "webhook-submit" }, "Create webhook"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { url: form.elements.url.value, description: form.elements.description.value,
      verbs: parseVerbs(form.elements.verbs.value), enabled: form.elements.enabled.checked,
      workspace: form.elements.workspace.value ? Number(form.elements.workspace.value) : null };
    $(".form-error", form).textContent = "";
    showFieldErrors(form, null);
    try {
      const { data } = await api("POST", "webhooks", body);
      secretPanel(secretBox, "Webhook #" + data.id + " created", data.secret);
      form.reset();
      setStatus("Created the webhook for " + data.url + ".", "ok");
      load();
    } catch (err) {
      formError(form, err);
    }
  });
  workspaces.ready.then(load);
  return h("section", {}, h("h1", { tabindex: "-1" }, "Webhooks"), secretBox, results, form);
}

// viewWebhook shows one webhook, its actions and its delivery log.
function viewWebhook(id) {
  const root = h("section", {}, h("h1", { tabindex: "-1" }, "Webhook"), h("p", {}, "Loading…"));
  const factsBox = h("div", { class: "card", id: "webhook-facts" });
  const secretBox = h("div", { id: "new-webhook", class: "card", hidden: true });
  const testResult = h("div", { id: "webhook-test-result", "aria-live": "polite" });
  const deliveriesBox = h("div", { class: "card", id: "webhook-deliveries" });
  let hook, workspaceName = "";
  let page = 1, size = PAGE_SIZE;

  function title() {
    return h("h1", { tabindex: "-1" }, "Webhook #" + hook.id, " ", webhookState(hook));
  }

  function renderFacts() {
    const toggle = h("button", { type: "button", class: "secondary", id: "webhook-toggle", onclick: async () => {
      try {
        ({ data: hook } = await api("PATCH", "webhooks/" + id, { enabled: !hook.enabled }));
        setStatus(hook.enabled ? "The webhook is enabled; pending messages are due now." : "The webhook is disabled.", "ok");
        render();
      } catch (err) { fail(err); }
    } }, hook.enabled ? "Disable" : "Re-enable");
    const test = h("button", { type: "button", id: "webhook-test", onclick: async () => {
      test.disabled = true;
      fill(testResult, h("p", { class: "hint" }, "Sending a webhook.test event…"));
      try {
        const { data: d } = await api("POST", `webhooks/${id}/test`);
        const ok = d.status !== null && d.status >= 200 && d.status < 300;
        fill(testResult, h("p", { class: ok ? "test-ok" : "form-error", "data-status": d.status === null ? "" : d.status },
          ok ? "Test event delivered: " : "Test event failed: ", httpStatus(d.status), ` in ${d.durationMs} ms`,
          d.error ? " · " + d.error : null));
        await reload();
      } catch (err) {
        fill(testResult, h("p", { class: "form-error" }, err.message));
      } finally { test.disabled = false; }
    } }, "Send test event");
    const rotate = h("button", { type: "button", class: "secondary", id: "webhook-rotate", onclick: async () => {
      try {
        const { data } = await api("POST", `webhooks/${id}/rotate-secret`);
        secretPanel(secretBox, "New secret", data.secret);
        setStatus("The secret is rotated; the old one also signs for 24 hours.", "ok");
      } catch (err) { fail(err); }
    } }, "Rotate secret");
    const dialog = h("dialog", { id: "webhook-delete-dialog", "aria-labelledby": "webhook-delete-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "webhook-delete-title" }, "Delete webhook #" + hook.id + "?"),
        h("p", {}, "Roster stops sending to ", h("code", {}, hook.url), "; its pending messages and delivery log go."),
        h("div", { class: "actions" },
          h("button", { value: "cancel", class: "secondary", autofocus: true }, "Cancel"),
          h("button", { value: "delete", class: "danger", id: "webhook-delete-confirm" }, "Delete webhook"))));
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "delete") return;
      try {
        await api("DELETE", "webhooks/" + id);
        setStatus("Deleted webhook #" + id + ".", "ok");
        location.hash = "#/webhooks";
      } catch (err) { fail(err); }
    });
    const del = h("button", { type: "button", class: "danger", id: "webhook-delete",
      onclick: () => { dialog.returnValue = ""; dialog.showModal(); } }, "Delete…");
    fill(factsBox,
      h("h2", {}, "Endpoint"),
      h("dl", { class: "facts" },
        h("dt", {}, "URL"), h("dd", { id: "webhook-url" }, h("code", {}, hook.url)),
        h("dt", {}, "Description"), h("dd", {}, hook.description || "—"),
        h("dt", {}, "Verbs"), h("dd", {}, hook.verbs.length ? hook.verbs.join(" ") : "all"),
        h("dt", {}, "Workspace"), h("dd", { id: "webhook-workspace" }, hook.workspace === null ? "all"
          : h("a", { href: "#/workspaces/" + hook.workspace }, workspaceName || "#" + hook.workspace)),
        h("dt", {}, "Created"), h("dd", {}, fmtTime(hook.createdAt)),
        h("dt", {}, "Last delivery"), h("dd", { id: "webhook-last" }, fmtTime(hook.lastDeliveryAt), " ", hook.lastDeliveryAt ? httpStatus(hook.lastStatus) : null),
        h("dt", {}, "Failing since"), h("dd", {}, fmtTime(hook.failingSince)),
        h("dt", {}, "Disabled because"), h("dd", { id: "webhook-disabled-reason" }, hook.disabledReason || "—")),
      h("div", { class: "actions webhook-actions" }, test, toggle, rotate, del),
      testResult, dialog);
  }

  async function loadDeliveries() {
    try {
      const { data } = await api("GET", `webhooks/${id}/deliveries` + qs({ page, page_size: size }));
      const rows = data.results.map((d) => h("tr", { "data-delivery": d.id },
        h("td", {}, fmtTime(d.at)),
        h("td", {}, d.activityId === null ? "test" : "#" + d.activityId),
        h("td", {}, d.attempt),
        h("td", {}, httpStatus(d.status)),
        h("td", {}, d.durationMs + " ms"),
        h("td", { class: "scopes" }, d.error || "—"),
        h("td", {}, fmtTime(d.nextAttemptAt))));
      fill(deliveriesBox, h("div", { class: "card-head" }, h("h2", {}, `Recent deliveries (${data.count})`),
        h("button", { type: "button", class: "secondary small", id: "deliveries-refresh", onclick: () => reload().catch(fail) }, "Refresh")),
      table(["At", "Activity", "Attempt", "Status", "Duration", "Error", "Next attempt"],
        rows.length ? rows : emptyRow(7, "No deliveries yet."), { id: "deliveries-table" }),
      pager({ page, size }, data, (p, sz) => { page = p; size = sz; loadDeliveries(); }, "Delivery pages"));
    } catch (err) {
      if (err.status === 404 && page > 1) { page = 1; loadDeliveries(); return; }
      fill(deliveriesBox, h("p", { class: "form-error" }, err.message));
    }
  }

  // reload reads the webhook again (its last delivery and state) and
  // renders it with its deliveries.
  async function reload() {
    ({ data: hook } = await api("GET", "webhooks/" + id));
    workspaceName = "";
    if (hook.workspace !== null) {
      try { workspaceName = (await api("GET", "workspaces/" + hook.workspace)).data.name; } catch (e) { /* shown by id */ }
    }
    render();
  }

  // editForm changes the URL, description, verbs and workspace; it is
  // built once, so a reload does not undo what is being typed.
  let editForm = null;
  function buildEditForm() {
    const ws = workspaceChoice(hook.workspace);
    const form = h("form", { class: "card", id: "webhook-edit", novalidate: true },
      h("h2", {}, "Settings"),
      field("url", "URL", { type: "url", value: hook.url, required: true, autocomplete: "off" }),
      field("description", "Description", { tag: "textarea", rows: 2, value: hook.description }),
      h("div", { class: "grid" }, field("verbs", "Verbs", { value: hook.verbs.join(" "), autocomplete: "off" }, VERBS_HINT), ws.field),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", id: "webhook-save" }, "Save changes"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const patch = {};
      const verbs = parseVerbs(form.elements.verbs.value);
      const workspace = form.elements.workspace.value ? Number(form.elements.workspace.value) : null;
      if (form.elements.url.value !== hook.url) patch.url = form.elements.url.value;
      if (form.elements.description.value !== hook.description) patch.description = form.elements.description.value;
      if (verbs.join(" ") !== hook.verbs.join(" ")) patch.verbs = verbs;
      if (workspace !== hook.workspace) patch.workspace = workspace;
      $(".form-error", form).textContent = "";
      showFieldErrors(form, null);
      if (!Object.keys(patch).length) { setStatus("Nothing to save."); return; }
      try {
        await api("PATCH", "webhooks/" + id, patch);
        await reload();
        setStatus("Saved.", "ok");
      } catch (err) {
        formError(form, err);
      }
    });
    return form;
  }

  function render() {
    editForm = editForm || buildEditForm();
    fill(root, title(), factsBox, secretBox, deliveriesBox, editForm);
    renderFacts();
    loadDeliveries();
  }

  reload().catch((err) => fill(root, h("h1", { tabindex: "-1" }, "Webhook"), h("p", { class: "form-error" }, err.message)));
  return root;
}

// ---- router --------------------------------------------------------------

// showActivityNav adds the site-wide activity link to the navigation (once),
// after Groups; it is built here so that index.html's navigation stays as
// other features extend it.
function showActivityNav() {
  const nav = $("#nav");
  let link = $('a[data-section="activity"]', nav);
  if (!link) {
    link = h("a", { href: "#/activity", "data-section": "activity", id: "nav-activity" }, "Activity");
    const groups = $('a[data-section="groups"]', nav);
    if (groups) groups.after(link); else nav.append(link);
  }
  link.textContent = state.me.isAdmin ? "Audit log" : "Activity";
}

async function route(message) {
  for (const fn of state.cleanup.splice(0)) fn();
  const main = $("#main");
  if (!token()) {
    fill(main, viewSignIn(message));
    $("#f-username").focus();
    return;
  }
  if (!state.me) {
    try {
      ({ data: state.me } = await api("GET", "users/me"));
    } catch (err) {
      if (token()) fill(main, h("p", { class: "form-error" }, err.message));
      return;
    }
  }
  $("#nav").hidden = false;
  $("#whoami").hidden = false;
  $("#whoami-name").textContent = state.me.username + (state.me.isAdmin ? " (admin)" : "");
  $("#nav-webhooks").hidden = !state.me.isAdmin;
  $("#nav-providers").hidden = !state.me.isAdmin;
  showActivityNav();
  // Only admins administer Roster: others see "Roster", not "Roster admin".
  $(".brand span").hidden = !state.me.isAdmin;
  setStatus(message || "");

  const [path, query] = (location.hash.slice(1) || "/users").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  const section = parts[0] || "users";
  for (const a of document.querySelectorAll("#nav a[data-section]")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const id = parts[1] && /^[1-9][0-9]*$/.test(parts[1]) ? parts[1] : null;
  let view;
  if (section === "users") view = id ? viewUser(id) : viewUsers(params);
  else if (section === "workspaces") view = id ? viewWorkspace(id) : viewWorkspaces(params);
  else if (section === "groups") view = id ? viewGroup(id) : viewGroups(params);
  else if (section === "tokens") view = viewTokens(params);
  else if (section === "activity") view = viewActivity();
  else if (section === "webhooks" && state.me.isAdmin) view = id ? viewWebhook(id) : viewWebhooks(params);
  else if (section === "providers" && state.me.isAdmin) view = viewProviders();
  else view = h("section", {}, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, h("a", { href: "#/users" }, "Back to users")));
  fill(main, view);
  document.title = ($("h1", main).textContent || "Roster") + (state.me.isAdmin ? " · Roster admin" : " · Roster");
  if (message === undefined) main.focus({ preventScroll: true });
}

// ssoReturn finishes a single sign-on: the provider's callback sent the
// browser here with "#code=..." (exchanged once for a session token) or
// "#error=...". The fragment is cleared from the address bar first.
const SSO_ERRORS = {
  no_account: "No account for this identity.", account_inactive: "This account is inactive.",
  service_account: "A service account cannot sign in.", email_domain_not_allowed: "This email domain is not allowed for this provider.",
  identity_conflict: "This account is already linked to another identity at this provider.",
  access_denied: "The sign-in was cancelled at the provider.", invalid_token: "The provider's answer could not be verified.",
  provider_disabled: "This provider is disabled.", provider_unavailable: "The provider cannot be reached.",
};
//
// A code is taken only in the tab that started a sign-in (SSO_PENDING_KEY,
// set by the provider button, at most 10 minutes old, as the server's
// state). Otherwise a link carrying someone else's code, sent to a victim,
// would sign the victim in as that someone (login CSRF) and replace a
// session already open.
const SSO_PENDING_KEY = "roster.ssoPending";
async function ssoReturn() {
  const frag = new URLSearchParams(location.hash.slice(1));
  if (!frag.has("code") && !frag.has("error")) return undefined;
  history.replaceState(null, "", location.pathname + location.search + "#/users");
  const started = Number(sessionStorage.getItem(SSO_PENDING_KEY) || 0);
  sessionStorage.removeItem(SSO_PENDING_KEY);
  if (!started || Date.now() - started > 10 * 60 * 1000) {
    return "Single sign-on ignored: this tab did not start a sign-in. Use a provider button below.";
  }
  if (frag.has("error")) return "Single sign-on failed: " + (SSO_ERRORS[frag.get("error")] || "unknown reason.");
  try {
    const { data } = await api("POST", "auth/token", { code: frag.get("code") });
    sessionStorage.setItem(TOKEN_KEY, data.token);
    state.me = data.user;
    return undefined;
  } catch (err) {
    return "Single sign-on failed: " + err.message;
  }
}

// ---- sign-in providers (admins) ------------------------------------------

function splitList(text) { return text.split(/[\s,]+/).filter(Boolean); }

// viewProviders lists the single sign-on providers, adds one, and turns
// each on or off or deletes it.
function viewProviders() {
  const results = h("div", { id: "provider-results", "aria-live": "polite" });
  async function load() {
    try {
      const { data } = await api("GET", "auth/providers");
      const rows = data.map((p) => h("tr", { "data-provider": p.name },
        h("td", {}, h("code", {}, p.name)), h("td", {}, p.displayName), h("td", {}, p.issuer),
        h("td", {}, p.enabled ? "enabled" : "disabled"),
        h("td", {}, [p.autoCreate ? "creates users" : null, p.linkByEmail ? "links by email" : null, p.groupsClaim ? "groups from " + p.groupsClaim : null]
          .filter(Boolean).join(", ") || "—"),
        h("td", { class: "actions" },
          h("button", { type: "button", class: "secondary provider-toggle", onclick: async () => {
            try {
              await api("PATCH", "auth/providers/" + encodeURIComponent(p.name), { enabled: !p.enabled });
              setStatus((p.enabled ? "Disabled " : "Enabled ") + p.displayName + ".", "ok");
              load();
            } catch (err) { fail(err); }
          } }, p.enabled ? "Disable" : "Enable"),
          h("button", { type: "button", class: "danger provider-delete", onclick: async () => {
            if (!confirm("Delete the provider " + p.displayName + "? Its identities are unlinked.")) return;
            try {
              await api("DELETE", "auth/providers/" + encodeURIComponent(p.name));
              setStatus("Deleted " + p.displayName + ".", "ok");
              load();
            } catch (err) { fail(err); }
          } }, "Delete"))));
      fill(results, table(["Name", "Display name", "Issuer", "State", "Accounts", ""],
        rows.length ? rows : emptyRow(6, "No sign-in providers."), { id: "providers-table" }));
    } catch (err) { fail(err); }
  }
  const callback = new URL("../api/v3/auth/oidc/NAME/callback", document.baseURI).href;
  const form = h("form", { class: "card", id: "provider-create", novalidate: true },
    h("h2", {}, "New provider"),
    h("p", { class: "hint" }, "Register Roster at the provider first, with the redirect URL ", h("code", {}, callback),
      " (NAME being the name below) and the scopes openid email profile."),
    field("name", "Name", { required: true, autocapitalize: "none" }, "A slug: lower-case letters, digits and hyphens."),
    field("displayName", "Display name", { required: true }, "The button's label on the sign-in page."),
    field("issuer", "Issuer URL", { required: true, type: "url" }, "Its discovery document must load."),
    field("clientId", "Client id", { required: true }),
    field("clientSecret", "Client secret", { type: "password", autocomplete: "off" }),
    field("scopes", "Scopes", { value: "openid email profile" }, "Space-separated; must include openid."),
    field("usernameClaim", "Username claim", { value: "preferred_username" }),
    field("groupsClaim", "Groups claim", {}, "Optional: memberships in the groups this provider manages follow this claim."),
    field("allowedEmailDomains", "Allowed email domains", {}, "Space-separated; empty allows any."),
    h("div", { class: "field" }, h("label", {}, h("input", { type: "checkbox", name: "autoCreate", id: "f-autoCreate" }), " Create users on first sign-in")),
    h("div", { class: "field" }, h("label", {}, h("input", { type: "checkbox", name: "linkByEmail", id: "f-linkByEmail" }), " Link to the user with the same verified email")),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", id: "provider-submit" }, "Add provider"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { name: f.name.value.trim(), displayName: f.displayName.value.trim(), issuer: f.issuer.value.trim(),
      clientId: f.clientId.value.trim(), clientSecret: f.clientSecret.value, scopes: splitList(f.scopes.value),
      usernameClaim: f.usernameClaim.value.trim(), groupsClaim: f.groupsClaim.value.trim(),
      allowedEmailDomains: splitList(f.allowedEmailDomains.value), autoCreate: f.autoCreate.checked, linkByEmail: f.linkByEmail.checked };
    try {
      const { data } = await api("POST", "auth/providers", body);
      setStatus("Added " + data.displayName + ".", "ok");
      form.reset();
      showFieldErrors(form, null);
      $(".form-error", form).textContent = "";
      load();
    } catch (err) {
      const rest = showFieldErrors(form, err);
      $(".form-error", form).textContent = rest.length ? rest.join(" ") : err.message;
    }
  });
  load();
  return h("section", {}, h("h1", { tabindex: "-1" }, "Sign-in providers"), results, form);
}

window.addEventListener("hashchange", () => route());
window.addEventListener("unhandledrejection", (ev) => { ev.preventDefault(); fail(ev.reason); });
$("#signout").addEventListener("click", signOut);
ssoReturn().then((message) => route(message));
