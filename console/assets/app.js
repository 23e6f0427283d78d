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

// pager renders Previous/Next for a DRF page and calls go(page).
function pager(page, data, go, label) {
  const pages = Math.max(1, Math.ceil(data.count / PAGE_SIZE));
  return h("nav", { class: "pager", "aria-label": label || "Pages" },
    h("button", { type: "button", class: "secondary", disabled: !data.previous, onclick: () => go(page - 1) }, "← Previous"),
    h("span", {}, `Page ${page} of ${pages} · ${data.count} ${data.count === 1 ? "result" : "results"}`),
    h("button", { type: "button", class: "secondary", disabled: !data.next, onclick: () => go(page + 1) }, "Next →"));
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
      const rest = showFieldErrors(form, err);
      $("#signin-error").textContent = rest.length ? rest.join(" ") : err.message;
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

function viewUsers(params) {
  const st = {
    q: params.get("q") || "", page: Math.max(1, parseInt(params.get("page"), 10) || 1),
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

  async function load() {
    const mine = ++seq;
    ordering.disabled = !!st.q.trim();
    history.replaceState(null, "", "#/users" + qs({ q: st.q.trim(), page: st.page > 1 ? st.page : "",
      ordering: st.ordering !== "id" ? st.ordering : "", isActive: st.isActive }));
    results.setAttribute("aria-busy", "true");
    try {
      const p = { page: st.page, page_size: PAGE_SIZE, isActive: st.isActive };
      const { data } = st.q.trim()
        ? await api("GET", "users/search" + qs(Object.assign({ q: st.q.trim() }, p)))
        : await api("GET", "users" + qs(Object.assign({ ordering: st.ordering }, p)));
      if (mine !== seq) return; // a newer request is on its way
      const rows = data.results.map((u) => h("tr", {},
        h("td", {}, h("a", { href: "#/users/" + u.id }, u.username)),
        h("td", {}, fullName(u)),
        h("td", {}, u.email),
        h("td", {}, h("span", { class: "badge " + (u.isActive ? "ok" : "off") }, u.isActive ? "active" : "inactive"))));
      fill(results, 
        table(["Username", "Name", "Email", "Status"], rows.length ? rows : emptyRow(4, "No users match."), { id: "users-table" }),
        pager(st.page, data, (p) => { st.page = p; load(); }, "User pages"));
    } catch (err) {
      if (mine !== seq) return;
      if (err.status === 404 && st.page > 1) { st.page = 1; load(); return; }
      fill(results, h("p", { class: "form-error" }, err.message));
    } finally {
      if (mine === seq) results.setAttribute("aria-busy", "false");
    }
  }

  search.addEventListener("input", debounce(() => { st.q = search.value; st.page = 1; load(); }, 250));
  ordering.addEventListener("change", () => { st.ordering = ordering.value; st.page = 1; load(); });
  active.addEventListener("change", () => { st.isActive = active.value; st.page = 1; load(); });
  load();
  return h("section", {},
    h("h1", { tabindex: "-1" }, "Users"),
    h("div", { class: "toolbar", role: "search" },
      h("div", { class: "field grow" }, h("label", { for: "user-search" }, "Search users"), search),
      h("div", { class: "field" }, h("label", { for: "user-ordering" }, "Order by"), ordering),
      h("div", { class: "field" }, h("label", { for: "user-active" }, "Status"), active)),
    results);
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
        const rest = showFieldErrors(form, err);
        $("#profile-error").textContent = err.status === 412
          ? "Someone changed this user since you opened it. Reload the page to see their changes."
          : [err.message].concat(rest).join(" ");
      }
    });

    fill(root, title, h("div", { class: "user-layout" },
      h("div", {}, form,
        me.isAdmin ? adminActions(user, (u, e) => { user = u; etag = e; }) : null,
        userGroups(user), activeWorkspaces(id)),
      h("div", {}, activityFeed(id))));
  })();
  return root;
}

function adminActions(user, updated) {
  const stateBtn = h("button", { type: "button", class: "secondary", id: "toggle-active" },
    user.isActive ? "Deactivate" : "Reactivate");
  stateBtn.addEventListener("click", async () => {
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

function viewWorkspaces(params) {
  let page = Math.max(1, parseInt(params.get("page"), 10) || 1);
  const results = h("div", { id: "workspace-results" });
  async function load() {
    try {
      const { data } = await api("GET", "workspaces" + qs({ page, page_size: PAGE_SIZE }));
      const rows = data.results.map((w) => h("tr", {},
        h("td", {}, h("a", { href: "#/workspaces/" + w.id }, w.name)), h("td", {}, w.slug), h("td", {}, fmtTime(w.createdAt))));
      fill(results, table(["Name", "Slug", "Created"], rows.length ? rows : emptyRow(3, "No workspaces you can see.")),
        pager(page, data, (p) => { page = p; load(); }, "Workspace pages"));
    } catch (err) { fill(results, h("p", { class: "form-error" }, err.message)); }
  }
  load();
  const parts = [h("h1", { tabindex: "-1" }, "Workspaces"), results];
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
      } catch (err) { $(".form-error", form).textContent = showFieldErrors(form, err).concat(err.message).join(" "); }
    });
    parts.push(form);
  }
  return h("section", {}, parts);
}

function viewWorkspace(id) {
  const root = h("section", {}, h("h1", { tabindex: "-1" }, "Workspace"), h("p", {}, "Loading…"));
  const membersBox = h("div", { class: "card", id: "workspace-members" });
  const grantsBox = h("div", { class: "card", id: "workspace-grants" });
  let ws, canManage = false;

  async function loadAll() {
    try {
      const [{ data: members }, { data: grants }] = await Promise.all([
        api("GET", `workspaces/${id}/members` + qs({ page_size: 1000 })),
        api("GET", `workspaces/${id}/permissions` + qs({ page_size: 1000 })),
      ]);
      const mine = members.results.find((m) => m.id === state.me.id);
      canManage = state.me.isAdmin || (mine && mine.role === "admin");
      renderMembers(members);
      renderGrants(grants);
    } catch (err) { fail(err); }
  }

  function renderMembers(members) {
    const rows = members.results.map((m) => h("tr", {},
      h("td", {}, h("a", { href: "#/users/" + m.id }, m.username)), h("td", {}, fullName(m)),
      h("td", {}, m.role), h("td", {}, m.via.join(", "))));
    fill(membersBox, h("h2", {}, "Members"),
      h("p", { class: "hint" }, "Everyone with access, with their effective role and where it comes from."),
      table(["Username", "Name", "Role", "Via"], rows.length ? rows : emptyRow(4, "No members."), { id: "members-table" }));
  }

  function grantPath(s) { return `workspaces/${id}/permissions/${s.type === "user" ? "users" : "groups"}/${s.id}`; }

  function renderGrants(grants) {
    const rows = grants.results.map((g) => {
      const label = `${g.subject.type} ${g.subject.name}`;
      const sel = roleSelect(g.role, { "aria-label": "Role of " + label, disabled: !canManage });
      sel.addEventListener("change", async () => {
        try {
          await api("PUT", grantPath(g.subject), { role: sel.value });
          setStatus(`${label} is now ${sel.value}.`, "ok");
          loadAll();
        } catch (err) { fail(err); }
      });
      return h("tr", { "data-subject": g.subject.type + ":" + g.subject.name },
        h("td", {}, g.subject.type),
        h("td", {}, h("a", { href: (g.subject.type === "user" ? "#/users/" : "#/groups/") + g.subject.id }, g.subject.name)),
        h("td", {}, sel),
        h("td", {}, canManage ? h("button", { type: "button", class: "secondary small", "aria-label": "Revoke " + label,
          onclick: async () => {
            try { await api("DELETE", grantPath(g.subject)); setStatus(`Revoked the grant of ${label}.`, "ok"); loadAll(); } catch (err) { fail(err); }
          } }, "Revoke") : null));
    });
    const parts = [h("h2", {}, "Grants"),
      table(["Type", "Subject", "Role", ""], rows.length ? rows : emptyRow(4, "No grants."), { id: "grants-table" })];
    if (canManage) parts.push(grantForm());
    fill(grantsBox, ...parts);
  }

  function grantForm() {
    const kind = h("select", { id: "grant-type", name: "type" },
      h("option", { value: "user" }, "User"), h("option", { value: "group" }, "Group"));
    const userField = userPicker("grant-user", "Username");
    const groupSel = h("select", { id: "grant-group", name: "group" });
    const groupField = h("div", { class: "field", hidden: true }, h("label", { for: "grant-group" }, "Group"), groupSel);
    kind.addEventListener("change", async () => {
      const isGroup = kind.value === "group";
      userField.hidden = isGroup;
      $("input", userField).required = !isGroup;
      groupField.hidden = !isGroup;
      if (isGroup && !groupSel.options.length) {
        try {
          const { data } = await api("GET", "groups" + qs({ page_size: 1000 }));
          fill(groupSel, ...data.results.map((g) => h("option", { value: g.id }, g.name)));
        } catch (err) { fail(err); }
      }
    });
    const form = h("form", { id: "grant-form", class: "inline-form", novalidate: true },
      h("h3", {}, "Grant a role"),
      h("div", { class: "toolbar" },
        h("div", { class: "field" }, h("label", { for: "grant-type" }, "Grant to"), kind),
        userField, groupField,
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
          if (!groupSel.value) { err.textContent = "Choose a group."; return; }
          path = `workspaces/${id}/permissions/groups/${groupSel.value}`;
        }
        const { data } = await api("PUT", path, { role: form.elements.role.value });
        setStatus(`Granted ${data.role} to ${data.subject.type} ${data.subject.name}.`, "ok");
        loadAll();
      } catch (e) { err.textContent = e.message; }
    });
    return form;
  }

  (async () => {
    try {
      ({ data: ws } = await api("GET", "workspaces/" + id));
    } catch (err) {
      fill(root, h("h1", { tabindex: "-1" }, "Workspace"), h("p", { class: "form-error" }, err.message));
      return;
    }
    fill(root, h("h1", { tabindex: "-1" }, ws.name, " ", h("span", { class: "badge" }, ws.slug)),
      h("p", { class: "hint" }, "Created " + fmtTime(ws.createdAt)), h("div", { class: "columns" }, membersBox, grantsBox));
    loadAll();
  })();
  return root;
}

// ---- groups --------------------------------------------------------------

function viewGroups(params) {
  let page = Math.max(1, parseInt(params.get("page"), 10) || 1);
  const results = h("div", { id: "group-results" });
  async function load() {
    try {
      const { data } = await api("GET", "groups" + qs({ page, page_size: PAGE_SIZE }));
      const rows = data.results.map((g) => h("tr", {},
        h("td", {}, h("a", { href: "#/groups/" + g.id }, g.name)), h("td", {}, g.memberCount)));
      fill(results, table(["Name", "Members"], rows.length ? rows : emptyRow(2, "No groups.")),
        pager(page, data, (p) => { page = p; load(); }, "Group pages"));
    } catch (err) { fill(results, h("p", { class: "form-error" }, err.message)); }
  }
  load();
  const parts = [h("h1", { tabindex: "-1" }, "Groups"), results];
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
      } catch (err) { $(".form-error", form).textContent = showFieldErrors(form, err).concat(err.message).join(" "); }
    });
    parts.push(form);
  }
  return h("section", {}, parts);
}

function viewGroup(id) {
  const root = h("section", {}, h("h1", { tabindex: "-1" }, "Group"), h("p", {}, "Loading…"));
  const membersBox = h("div", { class: "card", id: "group-members" });
  const admin = state.me.isAdmin;

  async function loadMembers() {
    try {
      const { data } = await api("GET", `groups/${id}/members` + qs({ page_size: 1000 }));
      const rows = data.results.map((u) => h("tr", {},
        h("td", {}, h("a", { href: "#/users/" + u.id }, u.username)), h("td", {}, fullName(u)), h("td", {}, u.email),
        admin ? h("td", {}, h("button", { type: "button", class: "secondary small", "aria-label": "Remove " + u.username,
          onclick: async () => {
            try { await api("DELETE", `groups/${id}/members/${u.id}`); setStatus(`Removed ${u.username}.`, "ok"); loadMembers(); } catch (err) { fail(err); }
          } }, "Remove")) : null));
      const cols = admin ? ["Username", "Name", "Email", ""] : ["Username", "Name", "Email"];
      fill(membersBox, h("h2", {}, `Members (${data.count})`),
        table(cols, rows.length ? rows : emptyRow(cols.length, "No members."), { id: "group-members-table" }),
        admin ? addForm() : null);
    } catch (err) { fail(err); }
  }

  function addForm() {
    const picker = userPicker("member-user", "Username");
    const form = h("form", { id: "member-form", class: "inline-form", novalidate: true },
      h("h3", {}, "Add a member"),
      h("div", { class: "toolbar" }, picker, h("div", { class: "field end" }, h("button", { type: "submit" }, "Add"))),
      h("p", { class: "form-error", role: "alert" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = $(".form-error", form);
      const name = $("input", picker).value;
      try {
        const u = await findUserByUsername(name);
        if (!u) { err.textContent = `No user named "${name.trim()}".`; return; }
        await api("PUT", `groups/${id}/members/${u.id}`);
        setStatus(`Added ${u.username}.`, "ok");
        loadMembers();
      } catch (e) { err.textContent = e.message; }
    });
    return form;
  }

  (async () => {
    let g;
    try {
      ({ data: g } = await api("GET", "groups/" + id));
    } catch (err) {
      fill(root, h("h1", { tabindex: "-1" }, "Group"), h("p", { class: "form-error" }, err.message));
      return;
    }
    fill(root, h("h1", { tabindex: "-1" }, g.name), membersBox);
    loadMembers();
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
    let page = 1;
    const results = h("div", { id: "token-results", "aria-live": "polite" });
    const secretBox = h("div", { id: "new-token", class: "card", hidden: true });

    async function load() {
      try {
        const { data } = await api("GET", base + qs({ page, page_size: PAGE_SIZE }));
        const current = (token() || "").slice(0, 8);
        const rows = data.results.map((t) => {
          const isCurrent = mine && t.kind === "session" && t.prefix === current;
          const revoke = isCurrent ? h("span", { class: "hint" }, "this session")
            : h("button", { type: "button", class: "secondary", "data-revoke": t.id, onclick: async () => {
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
        pager(page, data, (p) => { page = p; load(); }, "Token pages"));
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
        const rest = showFieldErrors(form, err);
        $(".form-error", form).textContent = rest.length ? rest.join(" ") : err.message;
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
    } catch (err) { $(".form-error", form).textContent = showFieldErrors(form, err).concat(err.message).join(" "); }
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
  let page = Math.max(1, parseInt(params.get("page"), 10) || 1);
  const results = h("div", { id: "webhook-results", "aria-live": "polite" });
  const secretBox = h("div", { id: "new-webhook", class: "card", hidden: true });
  const workspaces = workspaceChoice(null);
  const names = workspaces.names;

  async function load() {
    try {
      const { data } = await api("GET", "webhooks" + qs({ page, page_size: PAGE_SIZE }));
      const rows = data.results.map((w) => h("tr", { "data-webhook": w.id },
        h("td", {}, h("a", { href: "#/webhooks/" + w.id }, w.url), w.description ? h("p", { class: "hint" }, w.description) : null),
        h("td", { class: "scopes" }, w.verbs.length ? w.verbs.join(" ") : "all"),
        h("td", {}, w.workspace === null ? "all" : h("a", { href: "#/workspaces/" + w.workspace }, names.get(w.workspace) || "#" + w.workspace)),
        h("td", {}, webhookState(w)),
        h("td", {}, fmtTime(w.lastDeliveryAt), " ", w.lastDeliveryAt ? httpStatus(w.lastStatus) : null),
        h("td", {}, fmtTime(w.failingSince))));
      fill(results, table(["URL", "Verbs", "Workspace", "State", "Last delivery", "Failing since"],
        rows.length ? rows : emptyRow(6, "No webhooks."), { id: "webhooks-table" }),
      pager(page, data, (p) => { page = p; load(); }, "Webhook pages"));
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
      const rest = showFieldErrors(form, err);
      $(".form-error", form).textContent = rest.length ? rest.join(" ") : err.message;
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
  let page = 1;

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
      const { data } = await api("GET", `webhooks/${id}/deliveries` + qs({ page, page_size: PAGE_SIZE }));
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
      pager(page, data, (p) => { page = p; loadDeliveries(); }, "Delivery pages"));
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
        const rest = showFieldErrors(form, err);
        $(".form-error", form).textContent = rest.length ? rest.join(" ") : err.message;
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
  else if (section === "webhooks" && state.me.isAdmin) view = id ? viewWebhook(id) : viewWebhooks(params);
  else view = h("section", {}, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, h("a", { href: "#/users" }, "Back to users")));
  fill(main, view);
  document.title = ($("h1", main).textContent || "Roster") + " · Roster admin";
  if (message === undefined) main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => route());
window.addEventListener("unhandledrejection", (ev) => { ev.preventDefault(); fail(ev.reason); });
$("#signout").addEventListener("click", signOut);
route();
