// Shared by the browser suites: Debian's Chromium, its flags for a closed network, the repository
// root, a static server for it, and the rule that a missing Chromium skips a suite locally but
// fails it in CI.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Chromium is absent (outside CI the suites skip; in CI their setup fails, naming the package). */
export const missing = !existsSync(CHROMIUM);

// Without the background-networking flags Chromium keeps trying (and failing) to reach Google's
// hosts on a closed network.
export const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

/** `describe`, or `describe.skip` with a notice when Chromium is absent outside CI. */
export function browserSuite(name: string): typeof describe | typeof describe.skip {
  const skip = missing && !process.env.CI;
  if (skip) console.warn(`notice: skipping the ${name} suite: ${CHROMIUM} is absent (apt-get install chromium)`);
  return skip ? describe.skip : describe;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.map': 'application/json', '.ts': 'text/plain; charset=utf-8',
};

/** What makes a page cross-origin isolated (SharedArrayBuffer, so the wasm thread pool), on every response. */
export const ISOLATION_HEADERS: Record<string, string> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/** Serve files under ROOT on 127.0.0.1 (GET only, no directory listings, nothing outside ROOT), with `headers` on every file. */
export function serveRoot(headers: Record<string, string> = {}): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = resolve(join(ROOT, path));
    if (req.method !== 'GET' || (file !== ROOT && !file.startsWith(ROOT + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}
