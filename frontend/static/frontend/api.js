// fetch() wrapper for /api/: session cookie + Django's CSRF header, JSON in and out.

export function csrfToken(doc = document) {
  const m = /(?:^|;\s*)csrftoken=([^;]+)/.exec(doc.cookie);
  return m ? decodeURIComponent(m[1]) : "";
}

/** Returns {ok, status, data}; never throws for HTTP errors (the caller shows them). */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    return { ok: false, status: 0, data: { detail: `network error: ${err.message}` } };
  }
  let data = null;
  const text = await response.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 500) };
  }
  return { ok: response.ok, status: response.status, data };
}

/** Every item of a paginated DRF list ({results, next}) or a plain list. */
export async function apiAll(path, limit = 20) {
  const out = [];
  let next = path;
  for (let i = 0; next && i < limit; i++) {
    const r = await api(next);
    if (!r.ok) return { ok: false, status: r.status, data: r.data, items: out };
    if (Array.isArray(r.data)) return { ok: true, items: r.data };
    out.push(...(r.data.results ?? []));
    next = r.data.next ? new URL(r.data.next, location.href).pathname + new URL(r.data.next, location.href).search : null;
  }
  return { ok: true, items: out };
}

/** Small DOM helper: h("td", {class: "x"}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, "data-status": status }, status);
}

export function bootData(id = "boot") {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : {};
}
