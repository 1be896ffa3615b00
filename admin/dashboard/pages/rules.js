"use strict";
// Rules (EMQX 5's rule engine): the list with each rule's metrics
// (GET /api/v5/rules, GET /api/v5/rules/{id}/metrics), enable/disable
// (PUT /api/v5/rules/{id}), delete; the editor (#/rules/new,
// #/rules/edit/<id>: POST or PUT /api/v5/rules) with its actions and a test
// pane (POST /api/v5/rule_test).

(() => {
  const { h, get, api, seg, fmt, badge } = Roost;

  const EXAMPLE_SQL = 'SELECT payload.temp AS temp, clientid\nFROM "sensors/#"\nWHERE payload.temp > 30';

  /** A rule's body for POST/PUT from what GET answered. */
  const bodyOf = (r) => ({
    name: r.name, sql: r.sql, actions: r.actions, enable: r.enable, description: r.description,
  });

  /** What an action is, in a few words. */
  function actionText(a) {
    if (typeof a === "string") return a;
    if (a.function === "republish") return `republish → ${(a.args && a.args.topic) || "?"}`;
    return a.function;
  }

  // ---- the list ----

  function list(ctx) {
    const add = h("button", { type: "button", class: "primary", dataset: { action: "new-rule" },
      onclick: () => Roost.go("rules", null, "new") }, "+ Create rule");
    const filters = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); reload(); } },
      h("label", null, "ID ", h("input", { type: "search", name: "like_id", placeholder: "contains…", spellcheck: "false",
        oninput: Roost.debounce(() => reload(), 300) })),
      h("label", null, "Enabled ", h("select", { name: "enable", onchange: () => reload() },
        [["", "any"], ["true", "enabled"], ["false", "disabled"]].map(([v, t]) => h("option", { value: v }, t)))),
      h("button", { type: "button", class: "quiet", onclick: () => reload() }, "Refresh"),
      add);
    const body = h("div", { class: "listing-body" });
    ctx.view.append(filters, body);

    async function toggle(r) {
      try {
        await api("PUT", "/api/v5/rules/" + seg(r.id), { ...bodyOf(r), enable: !r.enable });
        Roost.toast(`${r.enable ? "Disabled" : "Enabled"} ${r.id}`, "ok");
      } catch (e) {
        Roost.toast("Failed: " + e.message, "bad");
      }
      reload();
    }

    async function remove(r) {
      if (!(await Roost.confirm(`Delete rule "${r.id}"? Its metrics go with it.`, "Delete"))) return;
      try {
        await api("DELETE", "/api/v5/rules/" + seg(r.id));
        Roost.toast(`Deleted ${r.id}`, "ok");
      } catch (e) {
        Roost.toast("Delete failed: " + e.message, "bad");
      }
      reload();
    }

    const m = (r, k) => (r.metrics ? r.metrics[k] : undefined);
    const columns = [
      { title: "ID", cell: (r) => [h("a", { href: "#/rules/edit/" + seg(r.id) }, r.id),
        r.name ? h("div", { class: "dim" }, r.name) : null] },
      { title: "From", cell: (r) => h("code", null, (r.from || []).join(", ")) },
      { title: "Actions", cell: (r) => (r.actions || []).map(actionText).join(", ") },
      { title: "Status", cell: (r) => badge(r.enable ? "enabled" : "disabled", r.enable ? "ok" : "") },
      { title: "Matched", class: "num m-matched", cell: (r) => fmt.num(m(r, "matched")) },
      { title: "Passed", class: "num m-passed", cell: (r) => fmt.num(m(r, "passed")) },
      { title: "Failed", class: "num m-failed", cell: (r) => fmt.num(m(r, "failed")) },
      { title: "Act. ok", class: "num m-success", cell: (r) => fmt.num(m(r, "actions.success")) },
      { title: "Act. failed", class: "num m-actions-failed", cell: (r) => fmt.num(m(r, "actions.failed")) },
      { title: "Rate /s", class: "num m-rate", cell: (r) => fmt.num(m(r, "matched.rate"), 1) },
      { title: "", class: "actions", cell: (r) => [
        h("button", { type: "button", class: "small toggle", onclick: () => toggle(r) }, r.enable ? "Disable" : "Enable"),
        h("button", { type: "button", class: "small danger delete", onclick: () => remove(r) }, "Delete"),
      ] },
    ];

    let seq = 0;
    async function reload() {
      const mine = ++seq;
      const query = { limit: 1000 };
      for (const el of filters.elements) if (el.name) query[el.name] = el.value.trim();
      let rules;
      try {
        rules = (await get("/api/v5/rules", query)).data || [];
        await Promise.all(rules.map(async (r) => {
          try { r.metrics = (await get(`/api/v5/rules/${seg(r.id)}/metrics`)).metrics; } catch (_) { /* deleted meanwhile */ }
        }));
      } catch (e) {
        if (mine === seq) body.replaceChildren(Roost.failure(e, "The rule engine"));
        return;
      }
      if (mine !== seq || !ctx.live) return;
      body.replaceChildren(Roost.table(columns, rules, {
        empty: "No rules yet: create one to filter, reshape and republish messages at the broker.",
        rowAttrs: (r) => ({ dataset: { rule: r.id } }),
      }));
    }
    reload();
    ctx.every(3000, reload);
  }

  // ---- the editor ----

  /** One action's row: republish (topic, qos, retain, payload), console, or a
   *  data-integration reference. Answers {el, value()}. */
  function actionRow(a, onRemove) {
    const kind = typeof a === "string" ? "reference" : (a.function === "console" ? "console" : "republish");
    const args = (typeof a === "object" && a.args) || {};
    const sel = h("select", { name: "function" },
      [["republish", "republish"], ["console", "console"], ["reference", "data integration (type:name)"]]
        .map(([v, t]) => h("option", { value: v, selected: v === kind }, t)));
    const topic = h("input", { name: "topic", class: "wide", placeholder: "alerts/${clientid}", value: args.topic || "", spellcheck: "false" });
    const qos = h("select", { name: "qos" }, [0, 1, 2].map((q) => h("option", { value: q, selected: q === (args.qos ?? 0) }, q)));
    const retain = h("input", { type: "checkbox", name: "retain", checked: !!args.retain });
    const payload = h("input", { name: "payload", class: "wide", placeholder: "${payload} (empty: the rule's output as JSON)", value: args.payload || "", spellcheck: "false" });
    const ref = h("input", { name: "reference", class: "wide", placeholder: "http:my_webhook", value: typeof a === "string" ? a : "", spellcheck: "false" });
    const republish = h("div", { class: "inline-form" },
      h("label", null, "topic ", topic), h("label", null, "QoS ", qos), h("label", null, retain, " retain"),
      h("label", null, "payload ", payload));
    const reference = h("div", { class: "inline-form" }, h("label", null, "action ", ref));
    const show = () => { republish.hidden = sel.value !== "republish"; reference.hidden = sel.value !== "reference"; };
    sel.addEventListener("change", show);
    show();
    const el = h("div", { class: "action-row panel", dataset: { action: "row" } },
      h("div", { class: "toolbar" }, h("label", null, "Action ", sel),
        h("button", { type: "button", class: "small quiet", onclick: () => onRemove(el) }, "Remove")),
      republish, reference);
    const value = () => {
      if (sel.value === "console") return { function: "console", args: {} };
      if (sel.value === "reference") return ref.value.trim();
      const out = { topic: topic.value.trim(), qos: +qos.value, retain: retain.checked };
      if (payload.value !== "") out.payload = payload.value;
      return { function: "republish", args: out };
    };
    return { el, value };
  }

  async function editor(ctx, id) {
    const editing = id !== undefined;
    ctx.view.querySelector("h1").textContent = editing ? "Rule " + id : "Create rule";
    ctx.view.prepend(h("a", { href: "#/rules", class: "back" }, "‹ All rules"));
    let rule = { id: "", name: "", sql: EXAMPLE_SQL, actions: [{ function: "console", args: {} }], enable: true, description: "" };
    if (editing) {
      try {
        rule = await get("/api/v5/rules/" + seg(id));
      } catch (e) {
        ctx.view.append(e.status === 404 && !e.missing ? h("div", { class: "notice" }, `No rule "${id}".`) : Roost.failure(e, "The rule"));
        return;
      }
    }

    const form = h("form", { class: "rule-form", onsubmit: save },
      h("div", { class: "inline-form" },
        h("label", null, "ID ", h("input", { name: "id", value: rule.id, disabled: editing, placeholder: "made up if empty", spellcheck: "false" })),
        h("label", null, "Name ", h("input", { name: "name", value: rule.name || "" })),
        h("label", null, h("input", { type: "checkbox", name: "enable", checked: rule.enable }), " enabled")),
      h("label", { class: "block" }, "SQL", h("textarea", { name: "sql", rows: 7, spellcheck: "false" }, rule.sql)),
      h("label", { class: "block" }, "Description", h("input", { name: "description", value: rule.description || "" })));
    const rows = [];
    const actionsBox = h("div", { class: "actions-box" });
    const removeRow = (el) => { const i = rows.findIndex((r) => r.el === el); if (i >= 0) rows.splice(i, 1); el.remove(); };
    const addRow = (a) => { const r = actionRow(a, removeRow); rows.push(r); actionsBox.append(r.el); };
    (rule.actions || []).forEach(addRow);
    form.append(h("h2", null, "Actions"), actionsBox,
      h("div", { class: "toolbar" },
        h("button", { type: "button", dataset: { action: "add-action" },
          onclick: () => addRow({ function: "republish", args: { topic: "", qos: 0 } }) }, "+ Add action"),
        h("button", { type: "submit", class: "primary", dataset: { action: "save" } }, editing ? "Save" : "Create")));

    async function save(e) {
      e.preventDefault();
      const f = form.elements;
      const body = {
        name: f.name.value.trim(), sql: f.sql.value, enable: f.enable.checked,
        description: f.description.value, actions: rows.map((r) => r.value()),
      };
      try {
        if (editing) {
          await api("PUT", "/api/v5/rules/" + seg(id), body);
          Roost.toast(`Saved ${id}`, "ok");
        } else {
          if (f.id.value.trim()) body.id = f.id.value.trim();
          const made = await api("POST", "/api/v5/rules", body);
          Roost.toast(`Created ${made.id}`, "ok");
        }
        location.hash = "#/rules";
      } catch (err) {
        Roost.toast("Not saved: " + err.message, "bad");
        status.replaceChildren(h("div", { class: "notice error save-error" }, err.message));
      }
    }
    const status = h("div");

    // The test pane: a context, and what the SQL selects from it.
    const events = [["message_publish", "message_publish"], ["client_connected", "$events/client_connected"],
      ["client_disconnected", "$events/client_disconnected"], ["session_subscribed", "$events/session_subscribed"],
      ["session_unsubscribed", "$events/session_unsubscribed"], ["message_delivered", "$events/message_delivered"],
      ["message_acked", "$events/message_acked"], ["message_dropped", "$events/message_dropped"]];
    const firstTopic = (rule.from || []).find((t) => !t.startsWith("$events/")) || "sensors/room1";
    const test = h("form", { class: "test-form", onsubmit: runTest },
      h("div", { class: "inline-form" },
        h("label", null, "event ", h("select", { name: "event_type" }, events.map(([v, t]) => h("option", { value: v }, t)))),
        h("label", null, "topic ", h("input", { name: "topic", value: firstTopic.replace(/[#+]/g, "x"), spellcheck: "false" })),
        h("label", null, "client ID ", h("input", { name: "clientid", value: "c_emqx" })),
        h("label", null, "user name ", h("input", { name: "username", value: "u_emqx" })),
        h("label", null, "QoS ", h("select", { name: "qos" }, [0, 1, 2].map((q) => h("option", { value: q, selected: q === 1 }, q))))),
      h("label", { class: "block" }, "Payload", h("textarea", { name: "payload", rows: 4, spellcheck: "false" }, '{"temp": 35}')),
      h("div", { class: "toolbar" }, h("button", { type: "submit", dataset: { action: "test" } }, "Run test")));
    const output = h("div", { class: "test-output" });

    async function runTest(e) {
      e.preventDefault();
      const f = test.elements;
      const context = {
        event_type: f.event_type.value, topic: f.topic.value, clientid: f.clientid.value,
        username: f.username.value, qos: +f.qos.value, payload: f.payload.value,
      };
      try {
        const out = await api("POST", "/api/v5/rule_test", { sql: form.elements.sql.value, context });
        output.replaceChildren(h("h2", null, "Output"), h("pre", { class: "result ok" }, JSON.stringify(out, null, 2)));
      } catch (err) {
        output.replaceChildren(err.status === 412
          ? h("div", { class: "notice result nomatch" }, h("b", null, "SQL Not Match"), h("p", null, "The FROM or the WHERE does not match this context."))
          : h("div", { class: "notice error result" }, h("b", null, "Error: "), err.message));
      }
    }

    ctx.view.append(h("div", { class: "columns rule-editor" },
      h("div", { class: "panel" }, h("h2", null, "Rule"), form, status),
      h("div", { class: "panel" }, h("h2", null, "Test"), test, output)));
  }

  Roost.define("rules", (ctx) => {
    if (ctx.args[0] === "new") return editor(ctx);
    if (ctx.args[0] === "edit" && ctx.args[1] !== undefined) return editor(ctx, ctx.args[1]);
    return list(ctx);
  });
})();
