"use strict";
// Banned clients: GET /api/v5/banned, add (POST /api/v5/banned {as, who,
// reason, until}) and lift (DELETE /api/v5/banned/{as}/{who}).

Roost.define("banned", (ctx) => {
  const { h, api, seg, fmt } = Roost;
  const form = h("form", { class: "panel inline-form", onsubmit: add },
    h("h2", null, "Ban"),
    h("label", null, "as ", h("select", { name: "as" },
      [["clientid", "client ID"], ["username", "user name"], ["peerhost", "IP address"]].map(([v, t]) => h("option", { value: v }, t)))),
    h("label", null, "who ", h("input", { name: "who", required: true, spellcheck: "false" })),
    h("label", null, "reason ", h("input", { name: "reason" })),
    h("label", null, "until ", h("input", { name: "until", type: "datetime-local" })),
    h("button", { type: "submit", class: "danger" }, "Ban"));

  async function add(e) {
    e.preventDefault();
    const f = form.elements;
    const body = { as: f.as.value, who: f.who.value.trim(), reason: f.reason.value.trim() };
    if (f.until.value) body.until = new Date(f.until.value).toISOString();
    try {
      await api("POST", "/api/v5/banned", body);
      Roost.toast(`Banned ${body.as} ${body.who}`, "ok");
      form.reset();
      listing.reload();
    } catch (err) {
      Roost.toast("Ban failed: " + err.message, "bad");
    }
  }

  async function lift(b) {
    if (!(await Roost.confirm(`Lift the ban on ${b.as} "${b.who}"?`, "Lift ban"))) return;
    try {
      await api("DELETE", `/api/v5/banned/${seg(b.as)}/${seg(b.who)}`);
      Roost.toast(`Lifted the ban on ${b.who}`, "ok");
      listing.reload();
    } catch (err) {
      Roost.toast("Failed: " + err.message, "bad");
    }
  }

  const listing = Roost.listing(ctx, {
    path: "/api/v5/banned",
    what: "The ban list",
    columns: [
      { title: "As", cell: (b) => b.as },
      { title: "Who", cell: (b) => h("b", null, b.who) },
      { title: "Reason", cell: (b) => b.reason || "" },
      { title: "By", cell: (b) => b.by || "" },
      { title: "Since", cell: (b) => fmt.time(b.at) },
      { title: "Until", cell: (b) => (b.until ? fmt.time(b.until) : "forever") },
      { title: "", class: "actions", cell: (b) => h("button", { type: "button", class: "small", onclick: () => lift(b) }, "Lift") },
    ],
    empty: "Nobody is banned.",
  });
  ctx.view.querySelector(".filters").hidden = true;
  ctx.view.querySelector("h1").after(form);
});
