// @ts-check
// The settings page's Theme card. Without JavaScript it is a form post (with
// its Save button); here a choice is saved the moment it is made, worn at
// once, and the card follows a change made in another tab (the `settings`
// frame that theme.js re-dispatches as `linkup:settings`).

import { csrfToken } from "./api.js";
import { find } from "./dom.js";
import { applyTheme } from "./theme.js";

const form = find("[data-theme-form]", HTMLFormElement);
const status = find("[data-theme-status]");
const save = find("[data-theme-save]");
const radios = [...form.querySelectorAll('input[name="theme"]')].filter((r) => r instanceof HTMLInputElement);
let saved = radios.find((r) => r.checked)?.value ?? "system";
/** @type {string | null} */
let pending = null; // chosen here, not answered yet: its own echo over the socket is no news

/** @param {string} theme */
function check(theme) {
  for (const radio of radios) radio.checked = radio.value === theme;
}

/** @param {string} theme */
async function choose(theme) {
  applyTheme(theme);
  pending = theme;
  status.textContent = "Saving…";
  /** @type {{ ok: boolean, body: { detail?: string } | null }} */
  let answer;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: new FormData(form),
    });
    answer = { ok: response.ok, body: await response.json().catch(() => null) };
  } catch {
    answer = { ok: false, body: { detail: "the server could not be reached" } };
  }
  pending = null;
  if (answer.ok) {
    saved = theme;
    status.textContent = "Saved.";
  } else {
    applyTheme(saved);
    check(saved);
    status.textContent = `Not saved: ${answer.body?.detail ?? "the server refused it"}.`;
  }
}

save.hidden = true;
form.addEventListener("change", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.name === "theme") choose(event.target.value);
});
document.addEventListener("linkup:settings", ({ detail }) => {
  const theme = detail?.settings?.theme;
  if (typeof theme !== "string" || theme === saved || theme === pending) return;
  saved = theme;
  check(saved);
  status.textContent = "Changed in another tab.";
});
