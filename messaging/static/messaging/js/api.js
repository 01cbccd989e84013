// @ts-check
// The HTTP side: JSON GET/POST with the CSRF token Django set in its cookie
// (the pages use ensure_csrf_cookie), for the fallback path and the inbox.

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input instanceof HTMLInputElement ? input.value : "";
}

/**
 * Resolves to {status, body}; rejects only when the server could not be reached.
 * @param {string} url
 * @param {RequestInit} init
 * @returns {Promise<{ status: number, ok: boolean, body: any }>}
 */
async function request(url, init) {
  const response = await fetch(url, { credentials: "same-origin", ...init });
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return { status: response.status, ok: response.ok, body };
}

/**
 * ``init`` is passed on to fetch (e.g. ``{signal}``).
 * @param {string} url
 * @param {RequestInit & { headers?: Record<string, string> }} [init]
 */
export function getJSON(url, init = {}) {
  return request(url, { ...init, headers: { Accept: "application/json", ...init.headers } });
}

/**
 * @param {string} url
 * @param {unknown} data
 */
export function postJSON(url, data) {
  return request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(data),
  });
}
