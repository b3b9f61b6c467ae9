// Users (staff): add one with a password or an invite link (shown here once), deactivate, reactivate.
import { api, apiAll, h } from "./api.js";
import { localStamp } from "./localtime.js";
import { confirmer } from "./confirm.js";
import { errorText } from "./schema.js";

const body = document.getElementById("users-body");
const form = document.getElementById("user-form");
const error = document.getElementById("user-error");
const me = document.querySelector("table.users").dataset.me;
const ask = confirmer(document.getElementById("confirm"));

async function setActive(user, active) {
  const verb = active ? "Reactivate" : "Deactivate";
  if (!active && !(await ask(`Deactivate ${user.username}? Their sessions and tokens stop at once.`, "Yes, deactivate"))) return;
  const r = await api(`/api/users/${user.id}/`, { method: "PATCH", body: { is_active: active } });
  if (!r.ok) error.textContent = `${verb} ${user.username}: ${errorText(r.data)}`;
  await load();
}

async function load() {
  const r = await apiAll("/api/users/");
  if (!r.ok) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: "6", class: "error" }, `Could not load users (${r.status}).`)));
    return;
  }
  body.replaceChildren(...r.items.map((u) => h("tr", { "data-user": u.username },
    h("th", { scope: "row" }, u.username),
    h("td", {}, u.email),
    h("td", {}, u.is_staff ? "staff" : ""),
    h("td", {}, u.last_login ? h("time", { datetime: u.last_login }, localStamp(new Date(u.last_login))) : "never"),
    h("td", {}, u.is_active ? "active" : h("span", { class: "warning" }, "deactivated")),
    h("td", {}, u.username === me ? "" : h("button", { type: "button", class: u.is_active ? "danger" : "",
      "aria-label": `${u.is_active ? "Deactivate" : "Reactivate"} ${u.username}`,
      onclick: () => setActive(u, !u.is_active) }, u.is_active ? "Deactivate" : "Reactivate")))));
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  const invite = form.elements.how.value === "invite";
  const r = await api("/api/users/", { method: "POST", body: {
    username: form.elements.username.value, email: form.elements.email.value, invite } });
  if (!r.ok) {
    error.textContent = errorText(r.data);
    return;
  }
  document.getElementById("new-user-name").textContent = r.data.username;
  document.getElementById("new-user-label").textContent = invite ? "Invite link:" : "Password:";
  document.getElementById("new-user-secret").textContent = invite ? r.data.invite_url : r.data.initial_password;
  document.getElementById("new-user").hidden = false;
  form.reset();
  await load();
});

load();
