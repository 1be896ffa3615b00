"use strict";
// Cluster nodes: GET /api/v5/nodes (each node's figures) and GET
// /api/v5/cluster (membership as this node sees it), refreshed every 5 s.

Roost.define("nodes", async (ctx) => {
  const { h, get, fmt, badge } = Roost;
  const nodesBox = h("div", { class: "panel" }, h("h2", null, "Nodes"));
  const clusterBox = h("div", { class: "panel" }, h("h2", null, "Cluster membership"));
  ctx.view.append(nodesBox, clusterBox);
  const running = (s) => badge(s, s === "running" || s === "up" || s === "self" ? "ok" : s === "suspect" ? "warn" : "bad");

  async function refresh() {
    try {
      const nodes = await get("/api/v5/nodes");
      nodesBox.replaceChildren(h("h2", null, "Nodes"), Roost.table([
        { title: "Node", cell: (n) => h("b", null, n.node) },
        { title: "Status", cell: (n) => running(n.node_status) },
        { title: "Version", cell: (n) => n.version || "" },
        { title: "Uptime", class: "num", cell: (n) => (typeof n.uptime === "number" ? fmt.duration(n.uptime) : "") },
        { title: "Connections", class: "num", cell: (n) => fmt.num(n.connections) },
        { title: "Live connections", class: "num", cell: (n) => fmt.num(n.live_connections) },
        { title: "Memory used", class: "num", cell: (n) => (n.memory_used !== undefined ? fmt.bytes(n.memory_used) : "") },
      ], nodes, { rowAttrs: (n) => ({ dataset: { node: n.node } }) }));
    } catch (e) {
      nodesBox.replaceChildren(h("h2", null, "Nodes"), Roost.failure(e, "The node list"));
    }
    try {
      const c = await get("/api/v5/cluster");
      clusterBox.replaceChildren(h("h2", null, "Cluster membership"),
        c.enabled
          ? Roost.table([
              { title: "Node", cell: (m) => m.node },
              { title: "State", cell: (m) => running(m.state) },
              { title: "Address", cell: (m) => m.address || "" },
              { title: "Last heartbeat", class: "num", cell: (m) => (m.last_heartbeat_ms_ago == null ? "" : fmt.num(m.last_heartbeat_ms_ago) + " ms ago") },
              { title: "Routes", class: "num", cell: (m) => fmt.num(m.routes) },
            ], c.members || [])
          : h("p", { class: "dim" }, `Node ${c.node} runs alone: clustering is off (cluster.enabled).`));
    } catch (e) {
      clusterBox.replaceChildren(h("h2", null, "Cluster membership"), Roost.failure(e, "Cluster membership"));
    }
  }
  await refresh();
  ctx.every(5000, refresh);
});
