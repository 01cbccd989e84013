// @ts-check
// The settings page's "This device" section: the Install button (shown once
// the browser offered installation) and the "Desktop/phone notifications"
// switch, which asks for permission only when it is clicked on. Then the
// user's own settings (issue 17): each card's form is saved in place (the
// same post as without JavaScript, answered in JSON), and the page follows
// changes saved in other tabs through the `settings` and `muted` frames of
// ws/chat/.

import { csrfToken, postJSON } from "./api.js";
import { find } from "./dom.js";
import { canInstall, currentSubscription, install, supported, unsubscribe } from "./pwa.js";

/** @import { ServerFrame, Settings } from "./protocol/frames.js" */

const config = JSON.parse(find("#push-config").textContent ?? "");
const installButton = find("[data-install]");
const installStatus = find("[data-install-status]");
const toggle = find("[data-push-switch]", HTMLButtonElement);
const pushStatus = find("[data-push-status]");

// --- Install -------------------------------------------------------------------------

function showInstall() {
  installButton.hidden = !canInstall();
}

installButton.addEventListener("click", async () => {
  const outcome = await install();
  showInstall();
  if (outcome === "accepted") installStatus.textContent = "LinkUp is installed on this device.";
});
document.addEventListener("linkup:installable", showInstall);
document.addEventListener("linkup:installed", () => {
  installButton.hidden = true;
  installStatus.textContent = "LinkUp is installed on this device.";
});
if (window.matchMedia("(display-mode: standalone)").matches) installStatus.textContent = "You are using the installed LinkUp.";
showInstall();

// --- Notifications switch ----------------------------------------------------------------

/**
 * @param {boolean} on
 * @param {string} [message]
 */
function render(on, message = "") {
  toggle.setAttribute("aria-checked", on ? "true" : "false");
  pushStatus.textContent = message;
}

/** @param {string} base64url */
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function turnOn() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    render(false, permission === "denied"
      ? "Notifications are blocked for LinkUp in this browser's site settings."
      : "Notifications stay off: the browser's question was dismissed.");
    return;
  }
  const ready = await navigator.serviceWorker.ready;
  let subscription = await ready.pushManager.getSubscription();
  if (!subscription) {
    subscription = await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(config.public_key) });
  }
  const answer = await postJSON(config.subscribe_url, subscription.toJSON());
  if (!answer.ok) {
    await subscription.unsubscribe();
    render(false, answer.body?.detail ?? "The server could not save this device.");
    return;
  }
  render(true, "On: this device shows a notification for each new message.");
}

async function turnOff() {
  await unsubscribe();
  render(false, "Off for this device.");
}

async function start() {
  if (!config.enabled) {
    render(false, "System notifications are not set up on this server.");
    return;
  }
  if (!supported || !("PushManager" in window) || !("Notification" in window)) {
    render(false, "This browser cannot show system notifications for LinkUp.");
    return;
  }
  const subscription = await currentSubscription().catch(() => null);
  render(Boolean(subscription) && Notification.permission === "granted",
    Notification.permission === "denied" ? "Notifications are blocked for LinkUp in this browser's site settings." : "");
  toggle.disabled = false;
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      if (toggle.getAttribute("aria-checked") === "true") await turnOff();
      else await turnOn();
    } catch (error) {
      render(false, `Could not change notifications on this device: ${error instanceof Error ? error.message : error}`);
    } finally {
      toggle.disabled = false;
    }
  });
}

start();

// --- The user's settings -----------------------------------------------------------------

const settingsStatus = find("[data-settings-status]");
const zoneInput = document.querySelector("[data-time-zone]");

// The browser's zone by default: until the user saved quiet hours, the zone
// field offers the one this browser is in.
const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zoneInput instanceof HTMLInputElement && browserZone && !("zoneChosen" in zoneInput.dataset) && zoneInput.value === "UTC") zoneInput.value = browserZone;

/**
 * @param {HTMLFormElement} form
 * @param {string} detail
 */
function showError(form, detail) {
  let line = form.querySelector("[data-form-error]");
  if (!line) {
    const p = document.createElement("p");
    line = p;
    p.className = "notice error";
    p.setAttribute("role", "alert");
    p.dataset.formError = "";
    (form.querySelector(".setting-text, fieldset") ?? form).append(p);
  }
  line.textContent = detail;
}

/** @param {Settings} settings */
function applySettings(settings) {
  for (const name of /** @type {const} */ (["in_app", "email", "desktop", "read_receipts", "hide_notification_content"])) {
    const box = document.querySelector(`form input[type=checkbox][name=${name}]`);
    const value = settings[name];
    if (box instanceof HTMLInputElement && typeof value === "boolean") box.checked = value;
  }
  const quiet = document.querySelector("input[name=quiet_hours]");
  if (quiet instanceof HTMLInputElement && "quiet_hours_start" in settings) {
    quiet.checked = settings.quiet_hours_start !== null;
    const start = document.querySelector("input[name=quiet_hours_start]");
    const end = document.querySelector("input[name=quiet_hours_end]");
    if (settings.quiet_hours_start && start instanceof HTMLInputElement) start.value = settings.quiet_hours_start;
    if (settings.quiet_hours_end && end instanceof HTMLInputElement) end.value = settings.quiet_hours_end;
  }
  if (zoneInput instanceof HTMLInputElement && settings.time_zone && document.activeElement !== zoneInput) {
    zoneInput.value = settings.time_zone;
    zoneInput.dataset.zoneChosen = "";
  }
}

/** @param {number | string} conversation */
function removeMuteRow(conversation) {
  const field = document.querySelector(`[data-settings-form=unmute] input[name=conversation][value="${Number(conversation)}"]`);
  field?.closest("li")?.remove();
}

for (const form of document.querySelectorAll("form[data-settings-form]")) {
  if (!(form instanceof HTMLFormElement)) continue;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = find("button[type=submit]", HTMLButtonElement, form);
    button.disabled = true;
    try {
      const response = await fetch(location.pathname, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: new FormData(form),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        showError(form, body?.detail ?? `Not saved (HTTP ${response.status}).`);
        return;
      }
      form.querySelector("[data-form-error]")?.remove();
      const conversation = form.elements.namedItem("conversation");
      if (form.dataset.settingsForm === "unmute") removeMuteRow(conversation instanceof HTMLInputElement ? conversation.value : "");
      else applySettings(body.settings);
      settingsStatus.textContent = body.notice ?? "Saved.";
    } catch (error) {
      showError(form, `Not saved: the server could not be reached (${error instanceof Error ? error.message : error}).`);
    } finally {
      button.disabled = false;
    }
  });
}

// Changes saved in another tab or on another device: the user's socket says so at once.
function follow() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/chat/`);
  ws.addEventListener("message", (event) => {
    /** @type {ServerFrame} */
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === "settings") applySettings(frame.settings ?? {});
    else if (frame.type === "muted" && !frame.muted_until) removeMuteRow(frame.conversation);
  });
  ws.addEventListener("close", (event) => {
    // Signed out or too many sockets: stop; a dropped connection: try again later.
    if (event.code < 4000) setTimeout(follow, 5000);
  });
}
follow();
