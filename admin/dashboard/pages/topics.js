"use strict";
// Topics: GET /api/v5/topics, the routes of the topic index (a filter someone
// subscribes to), filtered and paged.

Roost.define("topics", (ctx) => {
  Roost.listing(ctx, {
    path: "/api/v5/topics",
    what: "The topic list",
    filters: [{ name: "topic", label: "Topic" }],
    columns: [
      { title: "Topic", cell: (t) => t.topic },
      { title: "Node", cell: (t) => t.node || "" },
    ],
    empty: "No topics: nobody subscribes to anything.",
  });
});
