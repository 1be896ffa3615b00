"use strict";
// Log in: POST /api/v5/login {username, password} answers {token, ...}; the
// token goes on every later call as `Authorization: Bearer <token>`.

Roost.define("login", (ctx) => {
  const { h, session } = Roost;
  const error = h("p", { class: "error", role: "alert" });
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");

  async function login(e) {
    e.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      const r = await Roost.api("POST", "/api/v5/login", { username: user.value, password: pass.value });
      session.start("Bearer " + r.token, user.value);
      const next = ctx.query.get("next");
      location.hash = next && next !== "#/login" && !next.startsWith("#/login?") ? next : "#/overview";
    } catch (err) {
      error.textContent = err.status === 401 || err.code === "BAD_USERNAME_OR_PWD"
        ? "Wrong user name or password." : err.message;
      pass.select();
    } finally {
      submit.disabled = false;
    }
  }

  ctx.view.append(h("form", { class: "login panel", id: "login-form", onsubmit: login },
    h("div", { class: "brand" }, h("span", null, "roost"), " dashboard"),
    h("label", null, "User name", user),
    h("label", null, "Password", pass),
    error,
    submit));
  session.end();
});
