// The HTTP server behind `vaegrad serve` (node:http only): a fixed table of routes (folders
// under URL prefixes, a few single entries) and nothing else. It is strict because it listens
// on a socket: GET/HEAD only, no request bodies, bounded URLs and headers, every path segment
// decoded and checked before it touches the file system, symlinks resolved and kept inside
// their folder, and (on loopback) only requests addressed to loopback names, so that a web
// page elsewhere cannot reach it through DNS rebinding. Every response carries COOP/COEP, so
// the page is cross-origin isolated (SharedArrayBuffer, for WebAssembly threads).

import { realpathSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, sep } from 'node:path';

/** Longest request target accepted (longer ones get 414): the explorer's own URLs are short. */
export const MAX_URL_LENGTH = 2048;
/** Largest request head accepted (Node answers 431 beyond it). */
export const MAX_HEADER_BYTES = 8192;

/** What a single route serves: bytes held in memory, or a file read on each request (so a retrained checkpoint shows up). */
export type Entry = { bytes: Uint8Array; type: string } | { file: string; type: string };

export interface ExplorerServerOptions {
  /** URL prefix ('/explorer/') -> folder on disk; files below it are served, nothing above it. */
  folders: Record<string, string>;
  /** Exact URL path -> what it serves. */
  entries: Record<string, Entry>;
  /** Where '/' redirects. */
  index: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.map': 'application/json', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.wasm': 'application/wasm', '.ts': 'text/plain; charset=utf-8',
};

/**
 * Sent with every response. COOP + COEP make the page cross-origin isolated; CORP keeps its
 * resources to this origin; the CSP lets the page load only from this server (and compile
 * WebAssembly), which is also why it works offline once served.
 */
const HEADERS: Record<string, string> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
  'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * The path segments of a request target, each percent-decoded on its own, so an encoded '/'
 * or '\' cannot join or split segments after the check. Anything that could step outside a
 * folder ('.', '..', empty segments, backslashes, NUL) or is not origin-form ('/...') is refused.
 */
export function pathSegments(target: string): string[] {
  const path = target.split(/[?#]/, 1)[0]!;
  if (!path.startsWith('/')) throw new HttpError(400, 'request target must be a path starting with /');
  const raw = path.slice(1).split('/');
  return raw.map((s, i) => {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw new HttpError(400, 'bad percent-encoding in the path');
    }
    if (d === '' && i !== raw.length - 1) throw new HttpError(400, 'empty path segment');
    if (d === '.' || d === '..' || /[/\\\0]/.test(d)) throw new HttpError(400, 'path segment not allowed');
    return d;
  });
}

/** The server (not yet listening). */
export function createExplorerServer(opts: ExplorerServerOptions): Server {
  // Folders resolved once, symlinks included: a served file's real path must lie inside its folder's.
  const folders = Object.entries(opts.folders).map(([prefix, dir]) => ({ prefix, root: realpathSync(dir) }));
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    respond(server, opts, folders, req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : 'internal error';
      if (status === 500) console.error(`vaegrad serve: ${req.url}: ${(e as Error).message}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A request that came with a body is answered and the connection closed, so the body is never read.
      const close = status === 413 || status === 405 ? { connection: 'close' } : {};
      res.writeHead(status, { ...HEADERS, ...close, 'content-type': 'text/plain; charset=utf-8', ...(status === 405 ? { allow: 'GET, HEAD' } : {}) });
      res.end(req.method === 'HEAD' ? undefined : `${status} ${message}\n`);
    });
  });
  return server;
}

async function respond(server: Server, opts: ExplorerServerOptions, folders: { prefix: string; root: string }[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = req.url ?? '/';
  if (target.length > MAX_URL_LENGTH) throw new HttpError(414, `URL longer than ${MAX_URL_LENGTH} characters`);
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `method ${req.method} not allowed`);
  if ((req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined) {
    throw new HttpError(413, 'requests to this server carry no body');
  }
  const local = server.address() as AddressInfo;
  if (isLoopback(local.address) && !LOOPBACK_NAMES.some((n) => req.headers.host === `${n}:${local.port}`)) {
    throw new HttpError(421, 'this server answers only requests addressed to 127.0.0.1, localhost or [::1]');
  }
  const segments = pathSegments(target);
  const path = `/${segments.join('/')}`;
  if (path === '/') {
    res.writeHead(302, { ...HEADERS, location: opts.index }).end();
    return;
  }
  const entry = opts.entries[path];
  if (entry) {
    let body: Uint8Array;
    if ('bytes' in entry) body = entry.bytes;
    else {
      try {
        body = await readFile(entry.file);
      } catch {
        throw new HttpError(404, `${path} is not available (${entry.file} cannot be read)`);
      }
    }
    send(req, res, body, entry.type);
    return;
  }
  for (const { prefix, root } of folders) {
    if (`${path}/` === prefix) {
      res.writeHead(301, { ...HEADERS, location: prefix }).end(); // relative URLs in the index need the slash
      return;
    }
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    const file = await realpathInside(root, rest === '' || rest.endsWith('/') ? `${rest}index.html` : rest);
    if (file === undefined) break;
    send(req, res, await readFile(file), TYPES[extname(file)] ?? 'application/octet-stream');
    return;
  }
  throw new HttpError(404, 'not found');
}

/** The real path of `rel` under `root` when it is a regular file inside root (symlinks resolved), else undefined. */
async function realpathInside(root: string, rel: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(join(root, rel));
    if (!real.startsWith(root + sep) || !(await stat(real)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return real;
}

function send(req: IncomingMessage, res: ServerResponse, body: Uint8Array, type: string): void {
  res.writeHead(200, { ...HEADERS, 'content-type': type, 'content-length': String(body.byteLength) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Listen on host:port; a taken port or an address that cannot be used rejects with a message
 * that says what to do (`hint` names the flag). Resolves to the URL of '/'.
 */
export function listen(server: Server, host: string, port: number, hint = '--port'): Promise<string> {
  return new Promise((ok, fail) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'EADDRINUSE') fail(new Error(`port ${port} on ${host} is already in use (another server, or an earlier vaegrad serve?): choose another with ${hint} N, or ${hint} 0 for any free port`));
      else if (e.code === 'EACCES') fail(new Error(`not allowed to listen on port ${port} (ports below 1024 need privileges): choose another with ${hint} N`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') fail(new Error(`cannot listen on ${host}: not an address of this machine`));
      else fail(e);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      ok(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`);
    });
  });
}
