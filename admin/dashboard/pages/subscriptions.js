"use strict";
// Subscriptions: GET /api/v5/subscriptions, every session's, filtered and paged.

Roost.define("subscriptions", (ctx) => {
  const { h, seg } = Roost;
  const yes = (b) => (b ? "yes" : "");
  Roost.listing(ctx, {
    path: "/api/v5/subscriptions",
    what: "The subscription list",
    filters: [
      { name: "clientid", label: "Client ID" },
      { name: "topic", label: "Topic filter" },
      { name: "match_topic", label: "Matching topic", placeholder: "a/b/c" },
      { name: "share_group", label: "Share group" },
      { name: "qos", label: "QoS", options: [["", "any"], ["0", "0"], ["1", "1"], ["2", "2"]] },
    ],
    columns: [
      { title: "Client ID", cell: (s) => h("a", { href: "#/clients/" + seg(s.clientid) }, s.clientid) },
      { title: "Topic filter", cell: (s) => s.topic },
      { title: "QoS", class: "num", cell: (s) => s.qos },
      { title: "No local", cell: (s) => yes(s.nl) },
      { title: "Retain as published", cell: (s) => yes(s.rap) },
      { title: "Retain handling", class: "num", cell: (s) => s.rh ?? "" },
      { title: "Node", cell: (s) => s.node || "" },
    ],
    empty: "No subscriptions match.",
  });
});
