// The explorer's service worker: makes the page work offline once served. On install it saves
// everything the page loads (the list the server gives at /offline-files.json: the page, the
// package's modules, the data, the checkpoint) in one cache. Afterwards every GET to the server
// goes to the network first, so a running server always wins (a retrained checkpoint, a rebuilt
// package) and refreshes the saved copy; only when the network fails is the saved copy used,
// marked with the header x-vaegrad-offline so that the page can say it runs from it.
const CACHE = 'vaegrad-explorer';

self.addEventListener('install', (e) => {
  e.waitUntil((async () => {
    const r = await fetch('../offline-files.json', { cache: 'no-store' });
    if (!r.ok) throw new Error(`offline-files.json: HTTP ${r.status}`);
    const cache = await caches.open(CACHE);
    await cache.addAll(await r.json());
    await self.skipWaiting(); // no older version to wait for: the cache is refreshed in place
  })());
});

// Take over the open page at once, so that what it fetches from now on (the training data on the
// first run) also refreshes the saved copy.
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  e.respondWith(networkFirst(req, e));
});

async function networkFirst(req, event) {
  try {
    const res = await fetch(req);
    if (res.ok && res.type === 'basic') {
      const copy = res.clone();
      event.waitUntil(caches.open(CACHE).then((c) => c.put(req, copy)));
    }
    return res;
  } catch (err) {
    // The page's own URL carries its settings (?points=...): the saved page is the same for all.
    const saved = await caches.match(req, { ignoreSearch: req.mode === 'navigate' });
    if (!saved) throw err;
    const headers = new Headers(saved.headers); // COOP/COEP included: the page stays cross-origin isolated
    headers.set('x-vaegrad-offline', '1');
    return new Response(saved.body, { status: saved.status, statusText: saved.statusText, headers });
  }
}
