"use strict";
// The actor tree: GET /api/v5/actors?prefix&depth every second, folded and
// unfolded by hand; a row whose restart count went up flashes red for 5 s.

(() => {
  const { h, get, fmt } = Roost;
  // A big broker (100k sessions) would send megabytes every second at depth 4:
  // unless the route asks for a depth, start at depth 1 there.
  const LARGE = 500;

  Roost.define("actors", async (ctx) => {
    const collapsed = new Set();     // paths the user folded
    let lastRestarts = new Map();    // path -> restarts at the previous refresh
    const bumpedUntil = new Map();   // path -> until when the row stays highlighted
    let lastTree = null;

    const prefix = h("input", { type: "search", class: "wide", placeholder: "roost/sessions/session:dev", spellcheck: "false",
                                value: ctx.query.get("prefix") || "" });
    const depth = h("select", null, ["1", "2", "3", "4", ""].map((d) => h("option", { value: d }, d || "all")));
    depth.value = ctx.query.has("depth") ? ctx.query.get("depth") : "4";
    const live = h("input", { type: "checkbox", checked: true });
    const status = h("span", { class: "status dim" }, "loading…");
    const rows = h("tbody");
    const restart = () => { lastRestarts = new Map(); refresh(); };
    prefix.addEventListener("input", Roost.debounce(restart, 200));
    depth.addEventListener("change", restart);

    ctx.view.append(
      h("div", { class: "filters" },
        h("label", null, "prefix ", prefix),
        h("label", null, "depth ", depth),
        h("button", { type: "button", onclick: () => { collapsed.clear(); draw(); } }, "Expand all"),
        h("button", { type: "button", onclick: () => {
          const walk = (n) => { if (n.children.length) collapsed.add(n.path); n.children.forEach(walk); };
          if (lastTree) { lastTree.children.forEach(walk); draw(); }
        } }, "Collapse all"),
        h("label", null, live, " live (1 s)"),
        status),
      h("p", { class: "legend dim" }, h("span", { class: "bump-swatch" }), "restart count went up since the previous refresh"),
      h("table", { class: "grid tree" },
        h("thead", null, h("tr", null, ["actor", "kind", "restarts", "mailbox", "uptime", "children", "path"].map((t, i) =>
          h("th", { class: i >= 2 && i <= 5 ? "num" : null }, t)))),
        rows));

    function uptime(startedAt) {
      return fmt.duration((Roost.serverNow() - Date.parse(startedAt)) / 1000);
    }

    function draw() {
      if (!lastTree) return;
      const out = [];
      const now = Date.now();
      const walk = (n, level) => {
        const open = !collapsed.has(n.path);
        const kids = n.children.length;
        const tog = h("span", { class: "tog" + (kids ? "" : " leaf") }, kids ? (open ? "▾" : "▸") : "·");
        if (kids) tog.addEventListener("click", () => { open ? collapsed.add(n.path) : collapsed.delete(n.path); draw(); });
        const name = h("td", { class: "name" }, tog, n.path.split("/").pop(), n.hibernating ? h("span", { class: "dim" }, " (asleep)") : null);
        name.style.paddingLeft = 10 + level * 18 + "px";
        out.push(h("tr", { class: (bumpedUntil.get(n.path) || 0) > now ? "bumped" : null, dataset: { path: n.path } },
          name,
          h("td", null, h("span", { class: "kind " + n.kind }, n.kind)),
          h("td", { class: "num restarts" + (n.restarts ? " nz" : "") }, n.restarts),
          h("td", { class: "num" }, n.mailbox ?? "–"),
          h("td", { class: "num" }, uptime(n.started_at)),
          h("td", { class: "num" }, n.child_count || ""),
          h("td", { class: "dim" }, n.path)));
        if (!open) return;
        n.children.forEach((c) => walk(c, level + 1));
        const hidden = n.child_count - kids;
        if (hidden > 0 && kids === 0) {
          const td = h("td", { class: "more", colspan: 7 },
            `${hidden} ${hidden === 1 ? "child" : "children"} not listed (increase depth or narrow the prefix)`);
          td.style.paddingLeft = 10 + (level + 1) * 18 + 18 + "px";
          out.push(h("tr", null, td));
        }
      };
      walk(lastTree, 0);
      rows.replaceChildren(...out);
    }

    function noteRestarts(root) {
      const seen = new Map();
      const now = Date.now();
      const walk = (n) => {
        seen.set(n.path, n.restarts);
        const before = lastRestarts.get(n.path);
        if (before !== undefined && n.restarts > before) bumpedUntil.set(n.path, now + 5000);
        n.children.forEach(walk);
      };
      walk(root);
      lastRestarts = seen;
      for (const [p, t] of bumpedUntil) if (t <= now) bumpedUntil.delete(p);
    }

    let busy = false;
    async function refresh() {
      if (busy) return;
      busy = true;
      try {
        const q = { prefix: prefix.value.trim(), depth: depth.value };
        const tree = await get("/api/v5/actors", q);
        noteRestarts(tree);
        lastTree = tree;
        draw();
        status.textContent = "updated " + new Date().toLocaleTimeString();
        status.classList.remove("err");
        if (ctx.live) history.replaceState(null, "", "#/actors" + Roost.qs(q));
      } catch (e) {
        status.textContent = "refresh failed: " + e.message;
        status.classList.add("err");
      } finally {
        busy = false;
      }
    }

    if (!ctx.query.has("depth")) {
      try {
        const s = await get("/api/v5/stats");
        if ((s.sessions ?? 0) > LARGE || s.connections > LARGE) depth.value = "1";
      } catch (_) { /* keep depth 4 */ }
    }
    await refresh();
    ctx.every(1000, () => { if (live.checked) refresh(); });
  });
})();
