"use strict";
// Dashboard users (GET/POST /api/v5/users, DELETE /api/v5/users/{username},
// POST /api/v5/users/{username}/change_pwd) and API keys (GET/POST
// /api/v5/api_key, DELETE /api/v5/api_key/{name}).

Roost.define("users", async (ctx) => {
  const { h, get, api, seg, fmt, session } = Roost;
  const usersBox = h("div", { class: "panel" });
  const keysBox = h("div", { class: "panel" });
  ctx.view.append(usersBox, keysBox);

  const field = (label, attrs) => h("label", null, label + " ", h("input", attrs));
  const rows = (answer) => (Array.isArray(answer) ? answer : (answer && answer.data) || []);
  async function attempt(what, f) {
    try {
      await f();
      return true;
    } catch (e) {
      Roost.toast(`${what} failed: ${e.message}`, "bad");
      return false;
    }
  }

  // ---- users ----

  async function drawUsers() {
    let users;
    try {
      users = rows(await get("/api/v5/users"));
    } catch (e) {
      usersBox.replaceChildren(h("h2", null, "Dashboard users"), Roost.failure(e, "User management"));
      return;
    }
    const add = h("form", { class: "inline-form", onsubmit: async (e) => {
      e.preventDefault();
      const f = add.elements;
      const body = { username: f.username.value.trim(), password: f.password.value, description: f.description.value };
      if (await attempt("Adding the user", () => api("POST", "/api/v5/users", body))) {
        Roost.toast(`Added ${body.username}`, "ok");
        drawUsers();
      }
    } },
      field("user name", { name: "username", required: true, autocomplete: "off" }),
      field("password", { name: "password", type: "password", required: true, autocomplete: "new-password" }),
      field("description", { name: "description" }),
      h("button", { type: "submit" }, "Add user"));
    usersBox.replaceChildren(h("h2", null, "Dashboard users"), Roost.table([
      { title: "User name", cell: (u) => [h("b", null, u.username), u.username === session.user ? h("span", { class: "dim" }, " (you)") : null] },
      { title: "Description", cell: (u) => u.description || "" },
      { title: "Role", cell: (u) => u.role || "" },
      { title: "", class: "actions", cell: (u) => [
          h("button", { type: "button", class: "small", onclick: () => changePassword(u.username) }, "Change password"),
          u.username === session.user ? null : h("button", { type: "button", class: "small danger", onclick: async () => {
            if (!(await Roost.confirm(`Delete the dashboard user "${u.username}"?`, "Delete"))) return;
            if (await attempt("Deleting the user", () => api("DELETE", "/api/v5/users/" + seg(u.username)))) drawUsers();
          } }, "Delete")] },
    ], users, { empty: "No users." }), add);
  }

  function changePassword(username) {
    const form = h("form", { class: "inline-form", onsubmit: async (e) => {
      e.preventDefault();
      const f = form.elements;
      if (f.new_pwd.value !== f.again.value) { Roost.toast("The new passwords differ.", "bad"); return; }
      const body = { old_pwd: f.old_pwd.value, new_pwd: f.new_pwd.value };
      if (await attempt("Changing the password", () => api("POST", `/api/v5/users/${seg(username)}/change_pwd`, body))) {
        Roost.toast(`Changed the password of ${username}`, "ok");
        form.remove();
      }
    } },
      h("b", null, `New password for ${username}: `),
      field("current", { name: "old_pwd", type: "password", required: true, autocomplete: "current-password" }),
      field("new", { name: "new_pwd", type: "password", required: true, autocomplete: "new-password" }),
      field("again", { name: "again", type: "password", required: true, autocomplete: "new-password" }),
      h("button", { type: "submit" }, "Change"),
      h("button", { type: "button", class: "quiet", onclick: () => form.remove() }, "Cancel"));
    usersBox.querySelector("form.pwd")?.remove();
    form.classList.add("pwd");
    usersBox.append(form);
  }

  // ---- API keys ----

  async function drawKeys(created) {
    let keys;
    try {
      keys = rows(await get("/api/v5/api_key"));
    } catch (e) {
      keysBox.replaceChildren(h("h2", null, "API keys"), Roost.failure(e, "API keys"));
      return;
    }
    const add = h("form", { class: "inline-form", onsubmit: async (e) => {
      e.preventDefault();
      const f = add.elements;
      const body = { name: f.name.value.trim(), desc: f.desc.value, enable: true };
      if (f.expired_at.value) body.expired_at = new Date(f.expired_at.value).toISOString();
      let answer;
      if (await attempt("Creating the key", async () => { answer = await api("POST", "/api/v5/api_key", body); })) drawKeys(answer);
    } },
      field("name", { name: "name", required: true, autocomplete: "off" }),
      field("description", { name: "desc" }),
      field("expires", { name: "expired_at", type: "datetime-local" }),
      h("button", { type: "submit" }, "Create key"));
    keysBox.replaceChildren();
    Roost.append(keysBox, [h("h2", null, "API keys"),
      h("p", { class: "dim" }, "Scripts call the API with HTTP basic auth: the key as user name, the secret as password."),
      created ? h("div", { class: "notice ok" }, h("b", null, "Copy the secret now: it is not shown again. "),
        Roost.facts([["Key", h("code", null, created.api_key)], ["Secret", h("code", null, created.api_secret)]])) : null,
      Roost.table([
        { title: "Name", cell: (k) => h("b", null, k.name) },
        { title: "Key", class: "mono", cell: (k) => k.api_key || "" },
        { title: "Description", cell: (k) => k.desc || "" },
        { title: "Enabled", cell: (k) => (k.enable === false ? "no" : "yes") },
        { title: "Created", cell: (k) => fmt.time(k.created_at) },
        { title: "Expires", cell: (k) => [
            k.expired_at && k.expired_at !== "infinity" ? fmt.time(k.expired_at) : "never",
            k.expired ? [" ", Roost.badge("expired", "bad")] : null] },
        { title: "", class: "actions", cell: (k) => h("button", { type: "button", class: "small danger", onclick: async () => {
            if (!(await Roost.confirm(`Delete the API key "${k.name}"? Scripts using it stop working.`, "Delete"))) return;
            if (await attempt("Deleting the key", () => api("DELETE", "/api/v5/api_key/" + seg(k.name)))) drawKeys();
          } }, "Delete") },
      ], keys, { empty: "No API keys." }), add]);
  }

  await Promise.all([drawUsers(), drawKeys()]);
});
