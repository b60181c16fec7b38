// `vaegrad serve`: the latent-space explorer. Checks the checkpoint and the data, then serves
// the page (explorer/ in the package), the built package (dist/src/), seeded stratified
// subsets of the data as IDX files, the checkpoint, and the list of all of these that the
// page's service worker saves for offline use, until Ctrl-C.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeIdx } from '../io/idx.js';
import type { ImageDataset } from '../vae/data.js';
import { IMAGE_SIZE, stratifiedSubset } from '../vae/data.js';
import type { ParsedFlags } from './args.js';
import { CliError, loadModel, loadSplit } from './context.js';
import { createExplorerServer, isLoopback, listen } from './explorer-server.js';
import type { Entry } from './explorer-server.js';
import type { serve as serveSpec } from './spec.js';

type Flags = ParsedFlags<typeof serveSpec.flags>;
type Log = (line: string) => void;

/** Test images the page plots and interpolates between (a stratified subset, seed 0). */
export const EXPLORER_TEST_IMAGES = 2000;
/** Training images the page's worker trains on (a stratified subset, seed 0). */
export const EXPLORER_TRAIN_IMAGES = 10_000;

/** The installed package's root: the nearest folder above this module whose package.json is vaegrad's. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'vaegrad') return dir;
    if (dirname(dir) === dir) throw new CliError(`cannot find vaegrad's package.json above ${from}`);
  }
}

/** A dataset as the two IDX files MNIST comes in (grey bytes [N, 28, 28], labels [N]). */
function idxEntries(ds: ImageDataset, name: string): Record<string, Entry> {
  const bytes = new Uint8Array(ds.n * IMAGE_SIZE);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(ds.pixels[i]! * 255);
  const type = 'application/octet-stream';
  return {
    [`/data/${name}-images.idx`]: { bytes: serializeIdx([ds.n, 28, 28], bytes), type },
    [`/data/${name}-labels.idx`]: { bytes: serializeIdx([ds.n], Uint8Array.from(ds.labelValues)), type },
  };
}

/**
 * The URL paths the page's service worker (explorer/sw.js) saves on install, so that a reload
 * works with the server stopped: the page's files and the package's modules (every .js, .html
 * and .css below the folders; the page imports most of the package), and the single entries.
 */
export function offlineFiles(folders: Record<string, string>, entries: readonly string[]): string[] {
  const files = Object.entries(folders).flatMap(([prefix, dir]) =>
    (readdirSync(dir, { recursive: true, encoding: 'utf8' }))
      .filter((f) => /\.(js|html|css)$/.test(f))
      .map((f) => `${prefix}${f.split(sep).join('/')}`));
  // The page is opened as its folder ('/explorer/'), which serves index.html.
  return [...Object.keys(folders).filter((prefix) => files.includes(`${prefix}index.html`)), ...files, ...entries].sort();
}

export interface Explorer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Check everything, then listen; the server runs until close(). */
export async function startExplorer(f: Flags, given: Set<string>, log: Log): Promise<Explorer> {
  const root = packageRoot();
  const dist = join(root, 'dist/src');
  if (!existsSync(join(dist, 'index.js'))) throw new CliError(`the built package is missing (${dist}): run \`npm run build\``);
  const checkpoint = resolve(f.checkpoint);
  let model: { file: string; kind: string; latent: number } | null = null;
  if (existsSync(checkpoint) || given.has('checkpoint')) {
    const vae = await loadModel(checkpoint); // the same checks as every command, before anything is served
    model = { file: basename(checkpoint), kind: vae.kind, latent: vae.latent };
  } else {
    log(`no checkpoint at ${f.checkpoint}: the page starts without a model (train one there, drop a model.safetensors on it, or run \`vaegrad train\` first)`);
  }
  const test = stratifiedSubset(await loadSplit(f.data, 'test'), EXPLORER_TEST_IMAGES, 0);
  const train = stratifiedSubset(await loadSplit(f.data, 'train'), EXPLORER_TRAIN_IMAGES, 0);
  const config = { model, data: f.data ? basename(resolve(f.data)) : 'MNIST', testImages: test.n, trainImages: train.n };
  const entries: Record<string, Entry> = {
    ...idxEntries(test, 'test'),
    ...idxEntries(train, 'train'),
    '/config.json': { bytes: new TextEncoder().encode(JSON.stringify(config)), type: 'application/json' },
  };
  if (model) entries['/checkpoint.safetensors'] = { file: checkpoint, type: 'application/octet-stream' };
  const folders = { '/explorer/': join(root, 'explorer'), '/dist/src/': dist };
  entries['/offline-files.json'] = { bytes: new TextEncoder().encode(JSON.stringify(offlineFiles(folders, Object.keys(entries)))), type: 'application/json' };
  const server = createExplorerServer({ folders, entries, index: '/explorer/' });
  let url: string;
  try {
    url = await listen(server, f.host, f.port);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (!isLoopback(f.host)) log(`warning: listening on ${f.host}: other machines that reach this address can open the page`);
  return { url, server, close: () => new Promise((ok) => server.close(() => ok())) };
}

export async function serveCommand(f: Flags, given: Set<string>, log: Log): Promise<number> {
  const explorer = await startExplorer(f, given, log);
  log(`explorer at ${explorer.url} (Ctrl-C stops)`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      explorer.server.closeAllConnections();
      void explorer.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
