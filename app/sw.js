// The service worker: the app opens with no network.
//
// The build writes the version and the list of files to precache into this
// file (scripts/service-worker); nothing here lists a file by hand. The API
// and /sync are never cached: documents live in IndexedDB, not here.
const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const CACHE = "papi-shell-" + VERSION;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys.filter((k) => k.startsWith("papi-shell-") && k !== CACHE).map((k) => caches.delete(k)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/sync") return;
  if (request.mode === "navigate") {
    // Every app route is the app: the network's copy when there is one,
    // else the cached shell.
    event.respondWith(
      fetch(request).catch(() =>
        caches.open(CACHE).then((cache) => cache.match("/index.html")),
      ),
    );
    return;
  }
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(request).then((hit) => hit || fetch(request)),
    ),
  );
});
