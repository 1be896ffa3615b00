"use strict";
// Data integration (EMQX 5's connectors, actions and sources): three pages
// from this one file (PAGES names it as their script). Each lists its objects
// with status and status_reason (GET /api/v5/<kind>), the metrics of actions
// and sources (GET /api/v5/<kind>/{id}/metrics), enables and disables
// (PUT .../enable/{true|false}), deletes (DELETE), and creates from a JSON
// form (POST /api/v5/<kind>).

(() => {
  const { h, get, api, seg, fmt, badge } = Roost;

  /** What a new one looks like, for the create form: EMQX's field names. */
  const EXAMPLES = {
    connectors: {
      type: "http", name: "my_webhook", url: "http://127.0.0.1:8080",
      headers: { "content-type": "application/json" }, connect_timeout: "15s", pool_size: 8,
    },
    actions: {
      type: "http", name: "to_webhook", connector: "my_webhook",
      parameters: { method: "post", path: "/ingest", body: "${.}" },
      resource_opts: { batch_size: 1, batch_time: "0ms", request_ttl: "45s" },
    },
    sources: {
      type: "mqtt", name: "from_remote", connector: "remote_broker",
      parameters: { topic: "remote/#", qos: 1 },
    },
  };

  const NOUN = { connectors: "connector", actions: "action", sources: "source" };

  const STATUS_KIND = { connected: "ok", connecting: "warn", disconnected: "bad", stopped: "" };

  const idOf = (o) => `${o.type}:${o.name}`;

  /** The create form: a JSON textarea, prefilled with an example. */
  function createForm(kind, done) {
    const text = h("textarea", { name: "conf", rows: 12, spellcheck: "false" },
      JSON.stringify(EXAMPLES[kind], null, 2));
    const status = h("div");
    const form = h("form", { class: "bridge-form panel", hidden: true, onsubmit: save },
      h("h2", null, `New ${NOUN[kind]}`),
      h("label", { class: "block" }, "JSON (type, name and the type's fields)", text),
      h("div", { class: "toolbar" },
        h("button", { type: "submit", class: "primary", dataset: { action: "create" } }, "Create"),
        h("button", { type: "button", class: "quiet", onclick: () => { form.hidden = true; } }, "Cancel")),
      status);
    async function save(e) {
      e.preventDefault();
      let conf;
      try {
        conf = JSON.parse(text.value);
      } catch (err) {
        status.replaceChildren(h("div", { class: "notice error save-error" }, "Not JSON: " + err.message));
        return;
      }
      try {
        const made = await api("POST", "/api/v5/" + kind, conf);
        Roost.toast(`Created ${idOf(made)}`, "ok");
        status.replaceChildren();
        form.hidden = true;
        done();
      } catch (err) {
        status.replaceChildren(h("div", { class: "notice error save-error" }, err.message));
      }
    }
    return form;
  }

  function page(kind) {
    return (ctx) => {
      const counted = kind !== "connectors";
      const body = h("div", { class: "listing-body" });
      const form = createForm(kind, () => reload());
      const bar = h("div", { class: "toolbar" },
        h("button", { type: "button", class: "primary", dataset: { action: "new" },
          onclick: () => { form.hidden = false; form.querySelector("textarea").focus(); } },
          `+ Create ${NOUN[kind]}`),
        h("button", { type: "button", class: "quiet", onclick: () => reload() }, "Refresh"));
      ctx.view.append(bar, form, body);

      async function toggle(o) {
        const on = o.enable === false;
        try {
          await api("PUT", `/api/v5/${kind}/${seg(idOf(o))}/enable/${on}`);
          Roost.toast(`${on ? "Enabled" : "Disabled"} ${idOf(o)}`, "ok");
        } catch (e) {
          Roost.toast("Failed: " + e.message, "bad");
        }
        reload();
      }

      async function remove(o) {
        if (!(await Roost.confirm(`Delete ${NOUN[kind]} "${idOf(o)}"?`, "Delete"))) return;
        try {
          await api("DELETE", `/api/v5/${kind}/${seg(idOf(o))}`);
          Roost.toast(`Deleted ${idOf(o)}`, "ok");
        } catch (e) {
          Roost.toast("Delete failed: " + e.message, "bad");
        }
        reload();
      }

      const m = (o, k) => (o.metrics ? o.metrics[k] : undefined);
      const metric = (title, key) => ({ title, class: "num m-" + key.replace(/\./g, "-"), cell: (o) => fmt.num(m(o, key)) });
      const columns = [
        { title: "ID", cell: (o) => idOf(o) },
        counted ? { title: "Connector", cell: (o) => o.connector || "" } : null,
        { title: "Status", class: "status", cell: (o) => badge(o.status || "?", STATUS_KIND[o.status]) },
        { title: "Reason", class: "reason dim", cell: (o) => o.status_reason || "" },
        // Actions count what rules hand them; sources what they receive.
        ...(kind === "actions" ? [metric("Matched", "matched"), metric("Success", "success"), metric("Failed", "failed"),
          metric("Dropped", "dropped"), metric("Queuing", "queuing"), metric("Inflight", "inflight"),
          metric("Retried", "retried")] : []),
        ...(kind === "sources" ? [metric("Received", "received"), metric("Dropped", "dropped")] : []),
        { title: "", class: "actions", cell: (o) => [
          h("button", { type: "button", class: "small toggle", onclick: () => toggle(o) }, o.enable === false ? "Enable" : "Disable"),
          h("button", { type: "button", class: "small danger delete", onclick: () => remove(o) }, "Delete"),
        ] },
      ].filter(Boolean);

      let seq = 0;
      async function reload() {
        const mine = ++seq;
        let all;
        try {
          all = await get("/api/v5/" + kind);
          if (counted) {
            await Promise.all(all.map(async (o) => {
              try { o.metrics = (await get(`/api/v5/${kind}/${seg(idOf(o))}/metrics`)).metrics; } catch (_) { /* deleted meanwhile */ }
            }));
          }
        } catch (e) {
          if (mine === seq) body.replaceChildren(Roost.failure(e, "Data integration"));
          return;
        }
        if (mine !== seq || !ctx.live) return;
        body.replaceChildren(Roost.table(columns, all, {
          empty: `No ${kind} yet.`,
          rowAttrs: (o) => ({ dataset: { bridge: idOf(o) } }),
        }));
      }
      reload();
      ctx.every(3000, reload);
    };
  }

  for (const kind of ["connectors", "actions", "sources"]) Roost.define(kind, page(kind));
})();
