// @ts-check
// On every page: register the service worker (/sw.js, scope "/"), keep the
// install prompt for the settings page's Install button, and clean up on
// sign-out: this browser's push subscription is dropped (in the browser and
// on the server) and the service worker forgets what it holds, before the
// sign-out form goes through.

import { postJSON } from "./api.js";

export const supported = "serviceWorker" in navigator;
/**
 * The event of Chromium's install prompt (not in TypeScript's DOM types, as it is not in every browser).
 * @typedef {Event & { prompt: () => Promise<void>, userChoice: Promise<{ outcome: "accepted" | "dismissed" }> }} InstallPromptEvent
 */
/** @type {InstallPromptEvent | null} */
let installPrompt = null;

export const registration = supported
  ? navigator.serviceWorker.register("/sw.js", { scope: "/", type: "classic", updateViaCache: "none" })
  : Promise.reject(new Error("service workers are not supported here"));
registration.catch(() => {});

if (supported) {
  navigator.serviceWorker.ready.then((ready) => ready.active?.postMessage({ type: "ensure-shell" }));
}

// --- Install -------------------------------------------------------------------------

window.addEventListener("beforeinstallprompt", (event) => {
  event.preventDefault();
  installPrompt = /** @type {InstallPromptEvent} */ (event);
  document.dispatchEvent(new CustomEvent("linkup:installable"));
});

window.addEventListener("appinstalled", () => {
  installPrompt = null;
  document.dispatchEvent(new CustomEvent("linkup:installed"));
});

export function canInstall() {
  return installPrompt !== null;
}

/** Show the browser's install dialog; resolves to "accepted" or "dismissed". */
export async function install() {
  if (!installPrompt) return "unavailable";
  const prompt = installPrompt;
  installPrompt = null;
  await prompt.prompt();
  const { outcome } = await prompt.userChoice;
  return outcome;
}

// --- Push subscription ---------------------------------------------------------------

export async function currentSubscription() {
  if (!supported || !("PushManager" in window)) return null;
  const ready = await navigator.serviceWorker.ready;
  return ready.pushManager.getSubscription();
}

/** Drop this browser's subscription here and on the server (best effort: the server also drops it at sign-out). */
export async function unsubscribe() {
  const subscription = await currentSubscription();
  if (!subscription) return;
  await postJSON("/messages/api/push/unsubscribe", { endpoint: subscription.endpoint }).catch(() => null);
  await subscription.unsubscribe();
}

// --- Sign-out ------------------------------------------------------------------------

async function forgetThisBrowser() {
  await unsubscribe();
  const worker = (await navigator.serviceWorker.ready).active;
  if (!worker) return;
  await new Promise((/** @type {(value?: undefined) => void} */ resolve) => {
    const done = () => resolve();
    navigator.serviceWorker.addEventListener("message", ({ data }) => data?.type === "forgotten" && done());
    worker.postMessage({ type: "signed-out" });
    setTimeout(done, 1500);
  });
}

for (const form of document.querySelectorAll("form.signout")) {
  if (!(form instanceof HTMLFormElement)) continue;
  form.addEventListener("submit", async (event) => {
    if (!supported || form.dataset.cleaned) return;
    event.preventDefault();
    try {
      await Promise.race([forgetThisBrowser(), new Promise((resolve) => setTimeout(resolve, 3000))]);
    } finally {
      form.dataset.cleaned = "1";
      form.submit();
    }
  });
}
