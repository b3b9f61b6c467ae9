// API tokens: make one (its key is shown here once, the server keeps only a digest), list, revoke.
import { api, h } from "./api.js";
import { localStamp } from "./localtime.js";
import { confirmer } from "./confirm.js";
import { errorText } from "./schema.js";

const body = document.getElementById("tokens-body");
const form = document.getElementById("token-form");
const error = document.getElementById("token-error");
const newKey = document.getElementById("new-key");
const ask = confirmer(document.getElementById("confirm"));

const stamp = (iso, none) => (iso ? h("time", { datetime: iso, title: iso }, localStamp(new Date(iso))) : none);

async function revoke(token) {
  if (!(await ask(`Revoke the token "${token.name}"? Scripts using it get 401 from now on.`, "Revoke for good"))) return;
  const r = await api(`/api/tokens/${token.id}/`, { method: "DELETE" });
  if (!r.ok) error.textContent = `Could not revoke: ${errorText(r.data)}`;
  await load();
}

async function load() {
  const r = await api("/api/tokens/");
  if (!r.ok) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: "6", class: "error" }, `Could not load tokens (${r.status}).`)));
    return;
  }
  body.replaceChildren(...(r.data.length ? r.data.map((t) => h("tr", { "data-token": t.id },
    h("th", { scope: "row" }, t.name),
    h("td", {}, h("span", { class: "badge" }, t.scope)),
    h("td", {}, stamp(t.created, "")),
    h("td", {}, stamp(t.expiry, "never")),
    h("td", {}, stamp(t.last_used, "never")),
    h("td", {}, h("button", { type: "button", class: "danger", "aria-label": `Revoke ${t.name}`,
      onclick: () => revoke(t) }, "Revoke")))) : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No tokens yet."))]));
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  const days = form.elements.expires_in_days.value.trim();
  const r = await api("/api/tokens/", { method: "POST", body: {
    name: form.elements.name.value, scope: form.elements.scope.value,
    expires_in_days: days ? Number(days) : null,
  } });
  if (!r.ok) {
    error.textContent = errorText(r.data);
    return;
  }
  document.getElementById("new-key-value").textContent = r.data.key;
  newKey.hidden = false;
  form.reset();
  await load();
});

load();
