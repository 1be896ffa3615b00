"use strict";
// Retained messages: GET /api/v5/mqtt/retainer/messages (paged), one message
// with its payload (GET .../message/{topic}), delete (DELETE .../message/{topic}).

Roost.define("retained", (ctx) => {
  const { h, get, api, seg, fmt } = Roost;
  const viewer = h("div", { class: "panel payload", hidden: true });

  async function show(m) {
    viewer.hidden = false;
    viewer.replaceChildren(h("h2", null, m.topic), h("p", { class: "dim" }, "loading…"));
    try {
      const full = await get("/api/v5/mqtt/retainer/message/" + seg(m.topic));
      viewer.replaceChildren(h("h2", null, m.topic), Roost.facts([
        ["QoS", full.qos], ["From client", full.from_clientid], ["From user", full.from_username],
        ["Published at", fmt.time(full.publish_at)], ["Size", fmt.bytes(full.payload_size)],
      ]), h("pre", null, decode(full.payload)));
    } catch (e) {
      viewer.replaceChildren(h("h2", null, m.topic), Roost.failure(e, "The message"));
    }
  }

  async function remove(m) {
    if (!(await Roost.confirm(`Delete the retained message on "${m.topic}"?`, "Delete"))) return;
    try {
      await api("DELETE", "/api/v5/mqtt/retainer/message/" + seg(m.topic));
      Roost.toast("Deleted " + m.topic, "ok");
      viewer.hidden = true;
      listing.reload();
    } catch (e) {
      Roost.toast("Delete failed: " + e.message, "bad");
    }
  }

  const listing = Roost.listing(ctx, {
    path: "/api/v5/mqtt/retainer/messages",
    what: "The retained message list",
    filters: [{ name: "topic", label: "Topic", placeholder: "filter, + and # allowed" }],
    columns: [
      { title: "Topic", cell: (m) => h("button", { type: "button", class: "link", onclick: () => show(m) }, m.topic) },
      { title: "QoS", class: "num", cell: (m) => m.qos },
      { title: "From client", cell: (m) => m.from_clientid || "" },
      { title: "Size", class: "num", cell: (m) => fmt.bytes(m.payload_size) },
      { title: "", class: "actions", cell: (m) => h("button", { type: "button", class: "danger small", onclick: () => remove(m) }, "Delete") },
    ],
    empty: "No retained messages.",
  });
  ctx.view.append(viewer);

  /** EMQX sends payloads base64-encoded; show text when they are UTF-8. */
  function decode(payload) {
    if (typeof payload !== "string") return JSON.stringify(payload);
    try {
      const bin = atob(payload);
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (_) {
      return payload;
    }
  }
});
