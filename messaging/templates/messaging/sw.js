// LinkUp's service worker, served from /sw.js (scope: the whole site).
//
// - Caches the app shell (static files and the offline page; nothing per
//   user) under a versioned name: a deploy that changes a shell file changes
//   this file, and the new worker drops the old cache.
// - Navigations go to the network; when it cannot be reached (or a proxy
//   answers 502/504 for it), the offline page. API answers, message pages, attachments and everything else are
//   never cached here.
// - Shows Web Push notifications (one per conversation, by tag), except for
//   a conversation a visible tab has open; a click focuses a LinkUp tab on
//   that conversation, or takes one there, or opens one.
// - Forgets everything it holds when the page says the user signed out.

const VERSION = "{{ version }}";
const CACHE = `linkup-shell-${VERSION}`;
const SHELL = {{ shell|safe }};
const OFFLINE_URL = {{ offline_url|safe }};
const ICON = SHELL.find((url) => url.endsWith("/icon-192.png"));
const BADGE = SHELL.find((url) => url.endsWith("/badge-96.png"));

async function cacheShell() {
  const cache = await caches.open(CACHE);
  // "reload": past the HTTP cache, so a new version gets new files.
  await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload", credentials: "omit" })));
}

self.addEventListener("install", (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("linkup-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function offlinePage() {
  const cached = await caches.match(OFFLINE_URL, { cacheName: CACHE });
  return cached || new Response("LinkUp is offline.", { status: 503, headers: { "Content-Type": "text/plain" } });
}

// A proxy in front of LinkUp answers 502/504 when no server is behind it: that is offline too.
const GATEWAY_DOWN = new Set([502, 504]);

async function navigate(request) {
  try {
    const response = await fetch(request);
    return GATEWAY_DOWN.has(response.status) ? offlinePage() : response;
  } catch {
    return offlinePage();
  }
}

async function fromShell(request, path) {
  const cached = await caches.match(path, { cacheName: CACHE });
  return cached || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(request));
  } else if (SHELL.includes(url.pathname) && url.pathname !== OFFLINE_URL && !url.search) {
    event.respondWith(fromShell(request, url.pathname));
  }
  // Anything else (the API, pages' data, attachments, /healthz) is left to the network.
});

// --- Messages from the pages -------------------------------------------------------

async function forgetEverything() {
  for (const notification of await self.registration.getNotifications()) notification.close();
  for (const name of await caches.keys()) await caches.delete(name);
}

self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "signed-out") {
    event.waitUntil(forgetEverything().then(() => event.source && event.source.postMessage({ type: "forgotten" })));
  } else if (type === "ensure-shell") {
    // After a sign-out emptied the cache, the next page refills it.
    event.waitUntil(caches.has(CACHE).then((has) => (has ? null : cacheShell())));
  }
});

// --- Web Push ------------------------------------------------------------------------

function readPush(event) {
  try {
    const data = event.data ? event.data.json() : null;
    if (data && typeof data.title === "string") return data;
  } catch {
    // Not JSON: show the generic notification below.
  }
  return { title: "LinkUp", body: "New notification", url: "/notifications/", tag: "linkup:notification" };
}

function samePage(clientUrl, target) {
  return new URL(clientUrl).pathname === target.pathname;
}

async function showPush(data) {
  const target = new URL(data.url || "/notifications/", self.location.origin);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  // The person is looking at that conversation: the page shows the message itself.
  if (windows.some((client) => client.visibilityState === "visible" && samePage(client.url, target))) return;
  await self.registration.showNotification(data.title, {
    body: data.body || "New message",
    tag: data.tag || `linkup:${target.pathname}`,
    renotify: true,
    icon: data.icon || ICON,
    badge: BADGE,
    timestamp: Date.now(),
    data: { url: target.pathname + target.search, id: data.id },
  });
}

self.addEventListener("push", (event) => {
  event.waitUntil(showPush(readPush(event)));
});

async function openConversation(notification) {
  const target = new URL((notification.data && notification.data.url) || "/messages/", self.location.origin);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const there = windows.find((client) => samePage(client.url, target));
  if (there) return there.focus();
  // Another LinkUp tab is taken there (a tab this worker controls can be navigated), then focused.
  for (const client of windows) {
    if (!("navigate" in client)) continue;
    try {
      const moved = await client.navigate(target.href);
      if (moved) return moved.focus();
    } catch {
      // Not controlled by this worker: try the next, or open a window.
    }
  }
  return self.clients.openWindow(target.href);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openConversation(event.notification));
});
