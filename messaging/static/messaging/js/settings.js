// The settings page's "This device" section: the Install button (shown once
// the browser offered installation) and the "Desktop/phone notifications"
// switch, which asks for permission only when it is clicked on.

import { postJSON } from "./api.js";
import { canInstall, currentSubscription, install, supported, unsubscribe } from "./pwa.js";

const config = JSON.parse(document.getElementById("push-config").textContent);
const installButton = document.querySelector("[data-install]");
const installStatus = document.querySelector("[data-install-status]");
const toggle = document.querySelector("[data-push-switch]");
const pushStatus = document.querySelector("[data-push-status]");

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

function render(on, message = "") {
  toggle.setAttribute("aria-checked", on ? "true" : "false");
  pushStatus.textContent = message;
}

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
      render(false, `Could not change notifications on this device: ${error.message}`);
    } finally {
      toggle.disabled = false;
    }
  });
}

start();
