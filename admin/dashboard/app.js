"use strict";
// The Roost dashboard: a hash router over a registry of pages, each drawing
// itself from the REST API (/api/v5, EMQX 5's shapes) with a bearer token.

const Roost = (() => {
  // The navigation, in order. A page is one entry here plus one file,
  // pages/<id>.js, which calls Roost.define(id, render) and is loaded the
  // first time the page is opened (or pages/<script>.js, when several pages
  // share one file). The rule and integration pages (issues 15 and 16) go in
  // a group of their own, "Integration", after "Monitoring".
  const PAGES = [
    { id: "overview", title: "Overview", group: "Monitoring" },
    { id: "clients", title: "Clients", group: "Monitoring" },
    { id: "subscriptions", title: "Subscriptions", group: "Monitoring" },
    { id: "topics", title: "Topics", group: "Monitoring" },
    { id: "retained", title: "Retained messages", group: "Monitoring" },
    { id: "alarms", title: "Alarms", group: "Monitoring" },
    { id: "rules", title: "Rules", group: "Integration" },
    { id: "connectors", title: "Connectors", group: "Integration", script: "bridges" },
    { id: "actions", title: "Actions", group: "Integration", script: "bridges" },
    { id: "sources", title: "Sources", group: "Integration", script: "bridges" },
    { id: "nodes", title: "Cluster nodes", group: "Cluster" },
    { id: "actors", title: "Actor tree", group: "Cluster" },
    { id: "banned", title: "Banned clients", group: "Access control" },
    { id: "users", title: "Users and API keys", group: "Access control" },
    { id: "login", title: "Log in", bare: true },
  ];
  const HOME = "overview";
  const renderers = new Map(); // page id -> render(ctx), once its file ran
  const loading = new Map();   // page id -> promise of its script

  // ---- session: the Authorization header value, kept for this tab only ----

  const session = {
    get auth() { return sessionStorage.getItem("roost.auth"); },
    get user() { return sessionStorage.getItem("roost.user") || ""; },
    start(auth, user) {
      sessionStorage.setItem("roost.auth", auth);
      sessionStorage.setItem("roost.user", user);
    },
    end() {
      sessionStorage.removeItem("roost.auth");
      sessionStorage.removeItem("roost.user");
    },
  };

  // ---- the REST API ----

  /** An error answer of the API: HTTP status plus EMQX's {code, message}. */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code || "HTTP " + status);
      this.status = status;
      this.code = code || "";
    }
    /** The endpoint does not exist on this broker (rather than "no such item"). */
    get missing() { return this.status === 404 && this.code === "NOT_FOUND"; }
  }

  let skew = 0; // the server's clock minus the browser's, from the last Date header
  /** The server's time now (epoch ms), for ages of things it time-stamped. */
  const serverNow = () => Date.now() + skew;

  /** Calls the API; answers the parsed JSON (null when there is no body). A
   *  401 ends the session and goes back to the login page. */
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (session.auth) headers.Authorization = session.auth;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      // The token travels in the header we set; "omit" also keeps the
      // browser from prompting on a 401 with a basic challenge (Fetch spec:
      // only requests that include credentials prompt).
      credentials: "omit",
    });
    const date = r.headers.get("Date");
    if (date) skew = Date.parse(date) - Date.now();
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (r.status === 401 && path !== "/api/v5/login") {
      session.end();
      if (!location.hash.startsWith("#/login")) go("login", { next: location.hash });
    }
    if (!r.ok) {
      throw new ApiError(r.status, json && json.code, (json && json.message) || text || r.statusText);
    }
    return json;
  }
  const get = (path, query) => api("GET", path + qs(query));

  /** "?a=1&b=2" of the non-empty values of `query` (or ""). */
  function qs(query) {
    if (!query) return "";
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, v);
    }
    const s = q.toString();
    return s ? "?" + s : "";
  }

  /** A path segment: client ids and topics may hold "/", "#" and spaces. */
  const seg = (s) => encodeURIComponent(s);

  // ---- DOM ----

  /** Builds an element: h("tr", {class: "x", onclick: f, dataset: {id}}, child, ...).
   *  Strings become text nodes (never HTML): values come from clients. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the page's CSP
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k in el && typeof v !== "string") el[k] = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  /** A table: columns are {title, cell(row) -> node or text, class}; rows get
   *  `rowAttrs(row)` (a data-* key for tests and links). */
  function table(columns, rows, { empty = "Nothing here.", rowAttrs } = {}) {
    const head = h("tr", null, columns.map((c) => h("th", { class: c.class }, c.title)));
    const body = rows.length
      ? rows.map((r) => h("tr", rowAttrs ? rowAttrs(r) : null,
          columns.map((c) => h("td", { class: c.class }, c.cell(r)))))
      : h("tr", null, h("td", { class: "empty", colspan: columns.length }, empty));
    return h("table", { class: "grid" }, h("thead", null, head), h("tbody", null, body));
  }

  /** A definition list of label/value pairs (values skipped when undefined). */
  function facts(pairs) {
    return h("dl", { class: "facts" }, pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
  }

  const badge = (text, kind) => h("span", { class: "badge " + (kind || "") }, text);

  /** What a page shows when its endpoint is not on this broker, or failed. */
  function failure(err, what) {
    if (err instanceof ApiError && err.missing) {
      return h("div", { class: "notice unavailable" },
        h("b", null, (what || "This page") + " is not available on this broker."),
        h("p", null, "Its API endpoint answered 404 Not Found."));
    }
    return h("div", { class: "notice error" }, h("b", null, "Could not load: "), err.message);
  }

  let toastTimer;
  function toast(text, kind) {
    const t = document.getElementById("toast");
    t.textContent = text;
    t.className = "show " + (kind || "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = ""; }, 3500);
  }

  /** Asks for confirmation in a modal dialog; resolves to true on OK. */
  function confirm(text, ok = "OK") {
    const d = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = ok;
    d.returnValue = "";
    d.showModal();
    return new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    });
  }

  // ---- formatting ----

  /** A time from RFC 3339 text or epoch milliseconds, in the local zone. */
  function time(t) {
    if (t === undefined || t === null || t === "") return "";
    const d = new Date(typeof t === "number" ? t : Date.parse(t));
    return isNaN(d) ? String(t) : d.toLocaleString();
  }
  function duration(secs) {
    let s = Math.max(0, Math.floor(secs));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const hh = Math.floor(s / 3600); s -= hh * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d}d ${hh}h`;
    if (hh) return `${hh}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }
  function num(n, digits = 0) {
    if (typeof n !== "number") return n === undefined || n === null ? "–" : String(n);
    return n.toLocaleString(undefined, { maximumFractionDigits: digits });
  }
  function bytes(n) {
    if (typeof n !== "number") return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  // ---- a paged, filtered listing (clients, subscriptions, topics...) ----

  /** Draws a filter form, a table and a pager into `ctx.view` for a list
   *  endpoint answering {data, meta: {page, limit, count, hasnext}}. Filters
   *  are {name, label, placeholder} text inputs or {name, label, options:
   *  [[value, text]...]} selects, sent as query parameters of the same name.
   *  Answers {reload()}. */
  function listing(ctx, { path, filters = [], columns, empty, rowAttrs, what, actions }) {
    const state = { page: 1, limit: 20 };
    const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); state.page = 1; reload(); } },
      filters.map((f) => h("label", null, f.label + " ",
        f.options
          ? h("select", { name: f.name, onchange: () => { state.page = 1; reload(); } },
              f.options.map(([v, t]) => h("option", { value: v }, t)))
          : h("input", { type: "search", name: f.name, placeholder: f.placeholder || "", spellcheck: "false",
                         oninput: debounce(() => { state.page = 1; reload(); }, 300) }))),
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", class: "quiet", onclick: () => reload() }, "Refresh"),
      actions);
    const body = h("div", { class: "listing-body" });
    const pager = h("div", { class: "pager" });
    ctx.view.append(form, body, pager);

    let seq = 0;
    async function reload() {
      const mine = ++seq;
      const query = { page: state.page, limit: state.limit };
      for (const el of form.elements) if (el.name) query[el.name] = el.value.trim();
      let answer;
      try {
        answer = await get(path, query);
      } catch (e) {
        if (mine !== seq) return;
        if (e instanceof ApiError && e.missing) form.hidden = true;
        body.replaceChildren(failure(e, what));
        pager.replaceChildren();
        return;
      }
      if (mine !== seq) return; // a later search overtook this one
      const rows = Array.isArray(answer) ? answer : answer.data || [];
      const meta = answer.meta || { page: 1, limit: rows.length, count: rows.length, hasnext: false };
      body.replaceChildren(table(columns, rows, { empty, rowAttrs }));
      drawPager(meta);
    }
    function drawPager(meta) {
      const pages = meta.count !== undefined ? Math.max(1, Math.ceil(meta.count / meta.limit)) : null;
      pager.replaceChildren(
        h("button", { type: "button", disabled: meta.page <= 1, onclick: () => { state.page--; reload(); } }, "‹ Prev"),
        h("span", { class: "where" }, `page ${meta.page}` + (pages ? ` of ${pages}` : ""),
          meta.count !== undefined ? ` · ${num(meta.count)} in all` : ""),
        h("button", { type: "button", disabled: !meta.hasnext, onclick: () => { state.page++; reload(); } }, "Next ›"),
        h("label", null, "per page ",
          h("select", { onchange: (e) => { state.limit = +e.target.value; state.page = 1; reload(); } },
            [20, 50, 100].map((n) => h("option", { value: n, selected: n === state.limit }, n)))));
    }
    reload();
    return { reload };
  }

  function debounce(f, ms) {
    let t;
    return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
  }

  // ---- the router ----

  /** What a page's render gets: its <section>, the route's arguments after
   *  the page id, and timers that stop when the user leaves the page. */
  class PageContext {
    constructor(view, args, query) {
      this.view = view;
      this.args = args;
      this.query = query;
      this.timers = [];
      this.live = true;
    }
    every(ms, f) { this.timers.push(setInterval(f, ms)); }
    stop() { this.live = false; this.timers.forEach(clearInterval); }
  }

  let current = null;

  /** Navigates to `#/<id>/<args...>?<query>`. */
  function go(id, query, ...args) {
    location.hash = "#/" + [id, ...args.map(seg)].join("/") + qs(query);
  }

  function parse() {
    const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
    const [id, ...args] = path.split("/").map(decodeURIComponent);
    return { id: id || HOME, args, query: new URLSearchParams(query || "") };
  }

  function load(id) {
    if (renderers.has(id)) return Promise.resolve();
    const file = (PAGES.find((p) => p.id === id) || {}).script || id;
    if (!loading.has(file)) {
      loading.set(file, new Promise((resolve, reject) => {
        const s = h("script", { src: `/assets/pages/${file}.js` });
        s.onload = resolve;
        s.onerror = () => { loading.delete(file); reject(new Error(`pages/${file}.js did not load`)); };
        document.head.appendChild(s);
      }));
    }
    return loading.get(file);
  }

  async function route() {
    let { id, args, query } = parse();
    let page = PAGES.find((p) => p.id === id);
    if (!page) { go(HOME); return; }
    if (!session.auth && id !== "login") { go("login", { next: location.hash }); return; }
    if (current) current.stop();
    const bare = !!page.bare;
    document.getElementById("shell").hidden = bare;
    document.getElementById("login-view").hidden = !bare;
    const host = document.getElementById(bare ? "login-view" : "view");
    const view = h("section", { class: "page", dataset: { page: id } });
    if (!bare) view.append(h("h1", null, page.title));
    host.replaceChildren(view);
    document.title = `Roost · ${page.title}`;
    drawNav(id);
    const ctx = (current = new PageContext(view, args, query));
    try {
      await load(id);
      if (ctx.live) await renderers.get(id)(ctx);
    } catch (e) {
      view.append(failure(e));
    }
  }

  function drawNav(active) {
    const nav = document.getElementById("nav");
    const groups = [];
    for (const p of PAGES.filter((p) => !p.bare)) {
      let g = groups.find((g) => g.name === p.group);
      if (!g) groups.push((g = { name: p.group, pages: [] }));
      g.pages.push(p);
    }
    nav.replaceChildren(...groups.map((g) => h("div", { class: "group" },
      h("div", { class: "group-name" }, g.name),
      g.pages.map((p) => h("a", { href: "#/" + p.id, class: p.id === active ? "active" : null,
                                  dataset: { nav: p.id } }, p.title)))));
    document.getElementById("who-name").textContent = session.user;
  }

  async function logout() {
    try { await api("POST", "/api/v5/logout", { username: session.user }); } catch (_) { /* the session ends anyway */ }
    session.end();
    go("login");
  }

  window.addEventListener("hashchange", route);
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("logout").addEventListener("click", logout);
    route();
  });

  return {
    define: (id, render) => renderers.set(id, render),
    api, get, serverNow, qs, seg, session, ApiError, go,
    h, append, table, facts, badge, failure, toast, confirm, listing, debounce,
    fmt: { time, duration, num, bytes },
  };
})();
