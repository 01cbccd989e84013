// @ts-check
// The offline page (served by the service worker when the server cannot be
// reached, under the address the person asked for): reload that address as
// soon as the server answers again, so the page's own code (and its outbox)
// takes over.

import { find } from "./dom.js";

const status = find("[data-offline-status]");
const retry = find("[data-offline-retry]");
const EVERY_MS = 5000;

async function serverAnswers() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    return response.status < 500;
  } catch {
    return false;
  }
}

async function tryAgain() {
  status.textContent = "Checking…";
  if (await serverAnswers()) {
    location.reload();
    return;
  }
  status.textContent = "Still offline. Trying again every few seconds…";
}

retry.addEventListener("click", tryAgain);
window.addEventListener("online", tryAgain);
setInterval(tryAgain, EVERY_MS);
