// The service worker: the app opens with no network.
//
// The app shell is served from the cache first, so the app opens at once on
// a slow network. A new version is downloaded in the background and waits;
// the page offers "reload to update" and sends "skip-waiting" only when the
// person chooses to, so that nothing reloads under someone typing.
//
// The build writes the version and the list of files to precache into this
// file (scripts/service-worker); nothing here lists a file by hand. The API
// and /sync are never cached: documents live in IndexedDB, not here.
const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const CACHE = "papi-shell-" + VERSION;
// Fetched on first use (the export worker and its DOCX writer), then kept.
const ON_DEMAND = ["/official-worker.js", "/papi-official-worker.js", "/papi-official-worker_bg.wasm"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then(async (cache) => {
      await cache.addAll(PRECACHE);
      // A device that has exported before keeps exporting offline after an
      // update: the new version's writer is fetched now, with the app.
      if (await caches.match("/papi-official-worker_bg.wasm")) {
        await cache.addAll(ON_DEMAND);
      }
    }),
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "skip-waiting") self.skipWaiting();
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
    // Every app route is the app shell of this version.
    event.respondWith(
      caches
        .open(CACHE)
        .then((cache) => cache.match("/index.html"))
        .then((hit) => hit || fetch(request)),
    );
    return;
  }
  if (ON_DEMAND.includes(url.pathname)) {
    event.respondWith(
      caches.open(CACHE).then((cache) =>
        cache.match(request).then(
          (hit) =>
            hit ||
            fetch(request).then((response) => {
              if (response.ok) cache.put(request, response.clone());
              return response;
            }),
        ),
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
