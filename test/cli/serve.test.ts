// `vaegrad serve`'s server: only its own files (traversal in every spelling, symlinks out of a
// folder), bounded requests (methods, bodies, URL and header sizes, Host), the headers that make
// the page cross-origin isolated, and the messages for a taken port or a bad checkpoint.
// Raw sockets send the request targets exactly as written (fetch would normalise '..' away).

import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExplorerServer, listen, MAX_URL_LENGTH, pathSegments } from '../../src/cli/explorer-server.js';
import { BUILT, ROOT, run, scratch } from './helpers.js';

/** Send `request` (a raw HTTP/1.1 request head, and any body) and return the status and the whole response. */
function raw(port: number, request: string): Promise<{ status: number; text: string }> {
  return new Promise((ok, fail) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', (e) => (text ? ok({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), text }) : fail(e)));
    socket.on('close', () => ok({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), text }));
    socket.write(request);
  });
}

const get = (port: number, target: string, headers = ''): Promise<{ status: number; text: string }> =>
  raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}Connection: close\r\n\r\n`);

describe('the explorer server', () => {
  const tmp = scratch('serve');
  let server: Server;
  let port: number;
  const secret = 'SECRET-OUTSIDE-THE-FOLDERS';

  beforeAll(async () => {
    // site/ is served; secret.txt next to it is not, nor what site/link points to.
    mkdirSync(tmp.path('site/sub'), { recursive: true });
    writeFileSync(tmp.path('site/index.html'), '<p>index</p>');
    writeFileSync(tmp.path('site/sub/page.js'), 'export const x = 1;');
    writeFileSync(tmp.path('secret.txt'), secret);
    symlinkSync(tmp.path('secret.txt'), tmp.path('site/link.txt'));
    symlinkSync(tmp.dir, tmp.path('site/up'));
    server = createExplorerServer({
      folders: { '/explorer/': tmp.path('site') },
      entries: { '/data/x.bin': { bytes: Uint8Array.from([1, 2, 3]), type: 'application/octet-stream' }, '/missing.bin': { file: tmp.path('nope'), type: 'application/octet-stream' } },
      index: '/explorer/',
    });
    port = Number(new URL(await listen(server, '127.0.0.1', 0)).port);
  });
  afterAll(async () => {
    await new Promise((ok) => server.close(ok));
    tmp.cleanup();
  });

  it('serves its files with the cross-origin isolation headers', async () => {
    const r = await get(port, '/explorer/sub/page.js');
    expect(r.status).toBe(200);
    expect(r.text).toContain('export const x = 1;');
    expect(r.text).toMatch(/content-type: text\/javascript/i);
    expect(r.text).toMatch(/cross-origin-opener-policy: same-origin/i);
    expect(r.text).toMatch(/cross-origin-embedder-policy: require-corp/i);
    expect(r.text).toMatch(/cross-origin-resource-policy: same-origin/i);
    expect((await get(port, '/explorer/')).text).toContain('<p>index</p>');
    expect((await get(port, '/')).text).toMatch(/^HTTP\/1\.1 302[^]*location: \/explorer\//i);
    expect((await get(port, '/explorer')).text).toMatch(/^HTTP\/1\.1 301[^]*location: \/explorer\//i);
    const bin = await get(port, '/data/x.bin');
    expect(bin.status).toBe(200);
    expect(bin.text.endsWith('\x01\x02\x03')).toBe(true);
    const head = await raw(port, `HEAD /data/x.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect(head.status).toBe(200);
    expect(head.text).toMatch(/content-length: 3/i);
    expect(head.text.endsWith('\r\n\r\n')).toBe(true);
    expect((await get(port, '/missing.bin')).status).toBe(404);
    expect((await get(port, '/explorer/nothing.js')).status).toBe(404);
  });

  it('refuses path traversal in every spelling', async () => {
    const attempts = [
      '/../secret.txt', '/explorer/../secret.txt', '/explorer/../../secret.txt', '/%2e%2e/secret.txt', '/explorer/%2e%2e/secret.txt',
      '/explorer/%2E%2E/secret.txt', '/explorer/..%2fsecret.txt', '/explorer/%2e%2e%2fsecret.txt', '/explorer/..%5csecret.txt',
      '/explorer/%252e%252e/secret.txt', '/explorer/./index.html', '//secret.txt', `/explorer/${encodeURIComponent(tmp.path('secret.txt'))}`,
      `/explorer//${tmp.path('secret.txt').slice(1)}`, tmp.path('secret.txt'), `http://127.0.0.1:${port}/../secret.txt`, '/explorer/%00index.html',
      '/explorer/%zz', 'secret.txt', '*',
    ];
    for (const target of attempts) {
      const r = await get(port, target);
      expect(r.status, target).toBeGreaterThanOrEqual(400);
      expect(r.text, target).not.toContain(secret);
    }
  });

  it('does not follow symlinks out of a served folder', async () => {
    for (const target of ['/explorer/link.txt', '/explorer/up/secret.txt']) {
      const r = await get(port, target);
      expect(r.status, target).toBe(404);
      expect(r.text, target).not.toContain(secret);
    }
  });

  it('splits and checks path segments', () => {
    expect(pathSegments('/explorer/sub/page.js?x=1#y')).toEqual(['explorer', 'sub', 'page.js']);
    expect(pathSegments('/explorer/a%20b.js')).toEqual(['explorer', 'a b.js']);
    expect(() => pathSegments('/a/%2e%2e/b')).toThrow(/not allowed/);
    expect(() => pathSegments('/a/..%2Fb')).toThrow(/not allowed/);
    expect(() => pathSegments('/a//b')).toThrow(/empty/);
  });

  it('bounds requests: methods, bodies, long URLs, big headers', async () => {
    const post = await raw(port, `POST /data/x.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 5\r\n\r\nhello`);
    expect(post.status).toBe(405);
    expect(post.text).toMatch(/allow: GET, HEAD/i);
    const body = await raw(port, `GET /data/x.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`);
    expect(body.status).toBe(413);
    const chunked = await raw(port, `GET /data/x.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    expect(chunked.status).toBe(413);
    expect((await get(port, `/explorer/${'a'.repeat(MAX_URL_LENGTH)}`)).status).toBe(414);
    expect((await get(port, '/data/x.bin', `X-Big: ${'b'.repeat(20_000)}\r\n`)).status).toBe(431);
  });

  it('answers on loopback only to loopback host names (no DNS rebinding)', async () => {
    const r = await raw(port, `GET /data/x.bin HTTP/1.1\r\nHost: attacker.example:${port}\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBe(421);
    expect((await raw(port, `GET /data/x.bin HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`)).status).toBe(200);
  });
});

describe('vaegrad serve', () => {
  it('says which port is taken and what to do', async () => {
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await run(['serve', '--port', String(port), '--checkpoint', join(ROOT, 'no-such-dir/none.safetensors')]);
      expect(r.code).toBe(1);
      // A checkpoint that was asked for is checked first; without one (the default is optional), the port.
      expect(r.stderr).toMatch(/checkpoint not found: .*none\.safetensors/);
      const r2 = await run(['serve', '--port', String(port)]);
      expect(r2.code).toBe(1);
      expect(r2.stderr).toMatch(new RegExp(`vaegrad serve: port ${port} on 127\\.0\\.0\\.1 is already in use .*--port N, or --port 0 for any free port`));
    } finally {
      await new Promise((ok) => blocker.close(ok));
    }
  });

  it('rejects a corrupt checkpoint before serving', async () => {
    const tmp = scratch('serve-bad');
    try {
      writeFileSync(tmp.path('model.safetensors'), Buffer.from('not a safetensors file at all'));
      const r = await run(['serve', '--port', '0', '--checkpoint', tmp.path('model.safetensors')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/model\.safetensors/);
    } finally {
      tmp.cleanup();
    }
  });

  it.runIf(BUILT)('serves the page, the package, the data subsets and the config', async () => {
    const { startExplorer } = await import('../../src/cli/serve-command.js');
    const lines: string[] = [];
    const ex = await startExplorer({ checkpoint: 'no-such/checkpoint.safetensors', port: 0, host: '127.0.0.1', data: undefined } as never, new Set(), (l) => lines.push(l));
    try {
      expect(lines.join('\n')).toMatch(/no checkpoint at no-such\/checkpoint\.safetensors: the page starts without a model/);
      const port = Number(new URL(ex.url).port);
      const page = await get(port, '/explorer/');
      expect(page.status).toBe(200);
      expect(page.text).toContain('<script type="module" src="explorer.js">');
      expect((await get(port, '/dist/src/index.js')).status).toBe(200);
      expect((await get(port, '/dist/src/../package.json')).status).toBe(400);
      expect((await get(port, '/checkpoint.safetensors')).status).toBe(404);
      const config = JSON.parse((await get(port, '/config.json')).text.split('\r\n\r\n')[1]!);
      expect(config).toEqual({ model: null, data: 'MNIST', testImages: 2000, trainImages: 10000 });
      // The test subset: an IDX file of 2,000 28x28 images, and 2,000 labels stratified like the test set (about 10% each).
      const images = await fetch(`${ex.url}data/test-images.idx`).then((r) => r.arrayBuffer());
      expect(images.byteLength).toBe(16 + 2000 * 784);
      const labels = new Uint8Array(await fetch(`${ex.url}data/test-labels.idx`).then((r) => r.arrayBuffer())).subarray(8);
      const counts = Array.from({ length: 10 }, (_, d) => labels.filter((l) => l === d).length);
      expect(counts.reduce((a, b) => a + b)).toBe(2000);
      for (const c of counts) expect(c).toBeGreaterThanOrEqual(170);
      expect(readFileSync(join(ROOT, 'package.json'), 'utf8')).toContain('"explorer"');
      // What the page's service worker saves for offline use: everything the page loads, each of it served.
      const offline = JSON.parse((await get(port, '/offline-files.json')).text.split('\r\n\r\n')[1]!) as string[];
      for (const f of ['/explorer/', '/explorer/index.html', '/explorer/explorer.js', '/explorer/worker.js', '/explorer/sw.js', '/explorer/style.css',
        '/dist/src/index.js', '/dist/src/vae/index.js', '/dist/src/backend/wasm/generated/kernels.js', '/config.json', '/data/train-images.idx', '/data/test-labels.idx']) {
        expect(offline, f).toContain(f);
      }
      expect(offline.filter((f) => f.endsWith('.map') || f.endsWith('.ts'))).toEqual([]);
      expect(offline).not.toContain('/checkpoint.safetensors'); // none was served
      const statuses = await Promise.all(offline.map((f) => fetch(`${ex.url}${f.slice(1)}`, { method: 'HEAD' }).then((r) => r.status)));
      expect(statuses.every((st) => st === 200), offline.filter((_, i) => statuses[i] !== 200).join(', ')).toBe(true);
    } finally {
      await ex.close();
    }
  });
});
