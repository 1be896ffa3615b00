"use strict";
// Clients: GET /api/v5/clients (search, filters, pages), one client's detail
// (GET /api/v5/clients/{clientid} and its subscriptions), and kick
// (DELETE /api/v5/clients/{clientid}).

(() => {
  const { h, get, api, seg, fmt, badge } = Roost;

  const stateOf = (c) => c.conn_state || (c.connected ? "connected" : "disconnected");
  const stateBadge = (c) => {
    const s = stateOf(c);
    return badge(s, s === "connected" ? "ok" : s === "disconnected" ? "dim" : "warn");
  };
  const address = (c) => (c.ip_address ? c.ip_address + (c.port ? ":" + c.port : "") : "");
  const VERSIONS = { 3: "3.1", 4: "3.1.1", 5: "5.0" };
  const proto = (c) => [c.proto_name, VERSIONS[c.proto_ver] || c.proto_ver].filter((x) => x !== undefined).join(" ");

  /** Asks, kicks, says so; answers whether the client was kicked. */
  async function kick(clientid) {
    if (!(await Roost.confirm(`Kick client "${clientid}"? Its connection is closed and its session discarded.`, "Kick"))) {
      return false;
    }
    try {
      await api("DELETE", "/api/v5/clients/" + seg(clientid));
      Roost.toast(`Kicked ${clientid}`, "ok");
      return true;
    } catch (e) {
      Roost.toast(`Kick failed: ${e.message}`, "bad");
      return false;
    }
  }

  function list(ctx) {
    const columns = [
      { title: "Client ID", cell: (c) => h("a", { href: "#/clients/" + seg(c.clientid) }, c.clientid) },
      { title: "User name", cell: (c) => c.username || "" },
      { title: "IP address", cell: address },
      { title: "State", cell: stateBadge },
      { title: "Protocol", cell: proto },
      { title: "Keepalive", class: "num", cell: (c) => fmt.num(c.keepalive) },
      { title: "Subscriptions", class: "num", cell: (c) => fmt.num(c.subscriptions_cnt) },
      { title: "Queued", class: "num", cell: (c) => fmt.num(c.mqueue_len) },
      { title: "Connected at", cell: (c) => fmt.time(c.connected_at) },
      { title: "", class: "actions", cell: (c) => h("button", {
          type: "button", class: "danger small kick",
          onclick: async () => { if (await kick(c.clientid)) listing.reload(); },
        }, "Kick") },
    ];
    const listing = Roost.listing(ctx, {
      path: "/api/v5/clients",
      what: "The client list",
      filters: [
        { name: "like_clientid", label: "Client ID", placeholder: "contains…" },
        { name: "username", label: "User name" },
        { name: "ip_address", label: "IP address" },
        { name: "conn_state", label: "State", options: [["", "any"], ["connected", "connected"], ["disconnected", "disconnected"]] },
        { name: "proto_ver", label: "Protocol", options: [["", "any"], ["5", "MQTT 5"], ["4", "MQTT 3.1.1"], ["3", "MQTT 3.1"]] },
      ],
      columns,
      empty: "No clients match.",
      rowAttrs: (c) => ({ dataset: { clientid: c.clientid } }),
    });
  }

  async function detail(ctx, clientid) {
    const back = h("a", { href: "#/clients", class: "back" }, "‹ All clients");
    ctx.view.querySelector("h1").textContent = "Client " + clientid;
    ctx.view.prepend(back);
    let c;
    try {
      c = await get("/api/v5/clients/" + seg(clientid));
    } catch (e) {
      ctx.view.append(e.status === 404 && !e.missing
        ? h("div", { class: "notice" }, `No client "${clientid}" (it may have disconnected).`)
        : Roost.failure(e, "Client details"));
      return;
    }
    const kickButton = h("button", { type: "button", class: "danger kick", onclick: async () => {
      if (await kick(clientid)) location.hash = "#/clients";
    } }, "Kick");
    ctx.view.append(h("div", { class: "toolbar" }, stateBadge(c), kickButton),
      h("div", { class: "columns" },
        h("div", { class: "panel" }, h("h2", null, "Connection"), Roost.facts([
          ["Client ID", c.clientid], ["User name", c.username], ["IP address", address(c)],
          ["Protocol", proto(c)], ["Listener", c.listener], ["Node", c.node],
          ["Keepalive", c.keepalive !== undefined ? c.keepalive + " s" : undefined],
          ["Clean start", c.clean_start !== undefined ? String(c.clean_start) : undefined],
          ["Connected at", fmt.time(c.connected_at)], ["Disconnected at", fmt.time(c.disconnected_at)],
          ["Created at", fmt.time(c.created_at)],
        ])),
        h("div", { class: "panel" }, h("h2", null, "Session"), Roost.facts([
          ["Expiry interval", c.expiry_interval !== undefined ? c.expiry_interval + " s" : undefined],
          ["Subscriptions", c.subscriptions_cnt !== undefined ? `${c.subscriptions_cnt} / ${c.subscriptions_max ?? "∞"}` : undefined],
          ["Inflight", c.inflight_cnt !== undefined ? `${c.inflight_cnt} / ${c.inflight_max ?? "∞"}` : undefined],
          ["Queued", c.mqueue_len !== undefined ? `${c.mqueue_len} / ${c.mqueue_max ?? "∞"}` : undefined],
          ["Queue dropped", c.mqueue_dropped],
          ["Awaiting PUBREL", c.awaiting_rel_cnt],
          ["Received (messages / packets)", c.recv_msg !== undefined ? `${fmt.num(c.recv_msg)} / ${fmt.num(c.recv_pkt)}` : undefined],
          ["Sent (messages / packets)", c.send_msg !== undefined ? `${fmt.num(c.send_msg)} / ${fmt.num(c.send_pkt)}` : undefined],
          ["Hibernating", c.hibernating ? "yes (no actor until its next packet)" : undefined],
        ]))));
    const subs = h("div", { class: "panel" }, h("h2", null, "Subscriptions"));
    ctx.view.append(subs);
    try {
      const list = await get("/api/v5/clients/" + seg(clientid) + "/subscriptions");
      subs.append(Roost.table([
        { title: "Topic", cell: (s) => s.topic },
        { title: "QoS", class: "num", cell: (s) => s.qos },
        { title: "No local", cell: (s) => (s.nl ? "yes" : "") },
        { title: "Retain as published", cell: (s) => (s.rap ? "yes" : "") },
        { title: "Retain handling", class: "num", cell: (s) => s.rh ?? "" },
      ], Array.isArray(list) ? list : list.data || [], { empty: "No subscriptions." }));
    } catch (e) {
      subs.append(Roost.failure(e, "The client's subscriptions"));
    }
  }

  Roost.define("clients", (ctx) => (ctx.args.length ? detail(ctx, ctx.args[0]) : list(ctx)));
})();
