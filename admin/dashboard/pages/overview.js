"use strict";
// Overview: the figures of GET /api/v5/monitor_current, polled every second
// into two rolling charts (seeded from GET /api/v5/monitor?latest=N), and
// this node's facts from GET /api/v5/nodes.

(() => {
  const { h, get, fmt } = Roost;
  const POLL_MS = 1000;
  const WINDOW_MS = 5 * 60 * 1000;
  const CARDS = [
    ["connections", "Connections", 0],
    ["sessions", "Sessions", 0],
    ["topics", "Topics", 0],
    ["subscriptions", "Subscriptions", 0],
    ["retained_msg_count", "Retained", 0],
    ["received_msg_rate", "Received /s", 1],
    ["sent_msg_rate", "Sent /s", 1],
    ["dropped_msg_rate", "Dropped /s", 1],
  ];
  const COLORS = { blue: "#5fb3f9", green: "#4cc38a", orange: "#f5a524", red: "#ff5d5d" };

  /** A chart in a panel with an HTML legend that shows each series' last value. */
  function panel(title, id, series, digits) {
    const canvas = h("canvas", { id, class: "chart" });
    const legend = h("div", { class: "legend" }, series.map((s) =>
      h("span", { class: "item" }, h("i", { class: "swatch", style: `background:${s.color}` }),
        s.name + " ", h("b", { dataset: { key: s.key } }, "–"))));
    const chart = new Roost.LineChart(canvas, { series, windowMs: WINDOW_MS });
    const push = (t, values) => {
      chart.push(t, values);
      for (const b of legend.querySelectorAll("b")) b.textContent = fmt.num(values[b.dataset.key], digits);
    };
    return { el: h("div", { class: "panel chart-panel" }, h("h2", null, title), legend, canvas), chart, push };
  }

  /** The chart values of one monitor sample. A rate is given directly
   *  (`received_msg_rate`) or as a count over the interval since the sample
   *  before (`received`, as EMQX's /monitor samples carry it). */
  function values(s, before) {
    const dt = before && s.time_stamp > before.time_stamp ? (s.time_stamp - before.time_stamp) / 1000 : null;
    const rate = (name) => {
      if (typeof s[name + "_msg_rate"] === "number") return s[name + "_msg_rate"];
      if (typeof s[name] === "number" && dt) return s[name] / dt;
      return undefined;
    };
    return {
      connections: s.connections,
      live: s.live_connections,
      received: rate("received"),
      sent: rate("sent"),
      dropped: rate("dropped"),
    };
  }

  Roost.define("overview", async (ctx) => {
    const cards = h("div", { class: "cards" }, CARDS.map(([key, label]) =>
      h("div", { class: "card" }, h("div", { class: "label" }, label),
        h("div", { class: "value", dataset: { stat: key } }, "–"))));
    const conns = panel("Connections", "chart-connections", [
      { key: "connections", name: "connections", color: COLORS.blue },
      { key: "live", name: "live", color: COLORS.green, dash: [6, 5] },
    ], 0);
    const rates = panel("Message rate (messages/s)", "chart-rates", [
      { key: "received", name: "received", color: COLORS.blue },
      { key: "sent", name: "sent", color: COLORS.green, dash: [6, 5] },
      { key: "dropped", name: "dropped", color: COLORS.red },
    ], 1);
    const node = h("div", { class: "panel node" }, h("h2", null, "Node"), h("p", { class: "dim" }, "loading…"));
    const status = h("div", { class: "status dim" });
    ctx.view.append(status, cards, h("div", { class: "charts" }, conns.el, rates.el), node);

    let first;
    try {
      first = await get("/api/v5/monitor_current");
    } catch (e) {
      cards.replaceWith(Roost.failure(e, "Live monitoring (/api/v5/monitor_current)"));
      conns.el.parentNode.remove();
      drawNode(node);
      return;
    }
    await seed(conns, rates);
    const update = (m) => {
      for (const [key, , digits] of CARDS) {
        const el = cards.querySelector(`[data-stat="${key}"]`);
        el.textContent = fmt.num(m[key], digits);
      }
      const t = Date.now();
      const v = values(m);
      conns.push(t, v);
      rates.push(t, v);
      status.textContent = "updated " + new Date(t).toLocaleTimeString();
      status.classList.remove("err");
    };
    update(first);
    drawNode(node);

    let busy = false;
    ctx.every(POLL_MS, async () => {
      if (busy) return;
      busy = true;
      try {
        update(await get("/api/v5/monitor_current"));
      } catch (e) {
        status.textContent = "refresh failed: " + e.message;
        status.classList.add("err");
      } finally {
        busy = false;
      }
    });
    ctx.every(10 * POLL_MS, () => drawNode(node));
  });

  /** The charts start with the recent samples the broker kept, if it keeps any. */
  async function seed(...panels) {
    let samples;
    try {
      samples = await get("/api/v5/monitor", { latest: 300 });
    } catch (_) {
      return; // no history: the charts start empty and fill up
    }
    if (!Array.isArray(samples)) samples = samples && samples.data ? samples.data : [];
    const recent = samples.filter((s) => typeof s.time_stamp === "number" && s.time_stamp > Date.now() - WINDOW_MS);
    recent.forEach((s, i) => {
      const v = values(s, recent[i - 1]);
      for (const p of panels) p.chart.push(s.time_stamp, v);
    });
  }

  async function drawNode(node) {
    let n;
    try {
      n = (await get("/api/v5/nodes"))[0];
    } catch (e) {
      node.replaceChildren(h("h2", null, "Node"), Roost.failure(e, "Node information"));
      return;
    }
    node.replaceChildren(h("h2", null, "Node"), Roost.facts([
      ["Name", n.node],
      ["Status", Roost.badge(n.node_status, n.node_status === "running" ? "ok" : "bad")],
      ["Version", n.version],
      ["Role", n.role],
      ["Uptime", typeof n.uptime === "number" ? fmt.duration(n.uptime) : undefined],
      ["Connections", n.connections],
      ["Live connections", n.live_connections],
      ["Memory used", n.memory_used !== undefined ? fmt.bytes(n.memory_used) : undefined],
      ["Memory total", n.memory_total !== undefined ? fmt.bytes(n.memory_total) : undefined],
      ["CPU load (1/5/15 min)", n.load1 !== undefined ? `${n.load1} / ${n.load5} / ${n.load15}` : undefined],
      ["Max file descriptors", n.max_fds],
    ]));
  }
})();
