"use strict";
// Alarms: GET /api/v5/alarms?activated=true (active now) or false (history).

Roost.define("alarms", (ctx) => {
  const { h, fmt } = Roost;
  const details = (a) => (a.details && Object.keys(a.details).length ? JSON.stringify(a.details) : "");
  Roost.listing(ctx, {
    path: "/api/v5/alarms",
    what: "The alarm list",
    filters: [{ name: "activated", label: "Show", options: [["true", "active alarms"], ["false", "history (cleared)"]] }],
    columns: [
      { title: "Alarm", cell: (a) => h("b", null, a.name) },
      { title: "Message", cell: (a) => a.message || "" },
      { title: "Details", class: "mono", cell: details },
      { title: "Node", cell: (a) => a.node || "" },
      { title: "Raised at", cell: (a) => fmt.time(a.activate_at) },
      { title: "Cleared at", cell: (a) => (a.activated ? Roost.badge("active", "bad") : fmt.time(a.deactivate_at)) },
      { title: "Duration", class: "num", cell: (a) => (typeof a.duration === "number" ? fmt.duration(a.duration / 1000) : "") },
    ],
    empty: "No alarms.",
  });
});
