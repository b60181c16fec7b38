// What the page and its worker fetch from `vaegrad serve`: the data subsets (IDX files, parsed by
// vaegrad's own reader) and the served checkpoint. Shared by explorer.js and worker.js.
import { parseIdx } from '../dist/src/index.js';

/** The response for a URL (relative to this module), or an Error naming the URL and the HTTP status. */
async function fetchOk(path) {
  const url = new URL(path, import.meta.url);
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url.pathname}: HTTP ${r.status} ${r.statusText}`);
  return r;
}

/** The bytes at a URL (relative to this module), or an Error naming the URL and the HTTP status. */
export async function fetchBytes(path) {
  return new Uint8Array(await (await fetchOk(path)).arrayBuffer());
}

/**
 * The server's configuration: { model: { file, kind, latent } | null, data, testImages, trainImages },
 * and offline: true when the server did not answer and the copy saved for offline use did (sw.js).
 */
export async function fetchConfig() {
  const r = await fetchOk('../config.json');
  return { ...(await r.json()), offline: r.headers.has('x-vaegrad-offline') };
}

/** A served split ('test' or 'train') as { pixels: Float32Array (N * 784, in [0, 1]), labels: Int32Array, n }. */
export async function fetchImages(split) {
  const [images, labels] = await Promise.all([fetchBytes(`../data/${split}-images.idx`), fetchBytes(`../data/${split}-labels.idx`)]);
  const img = parseIdx(images, `${split}-images.idx`);
  const lab = parseIdx(labels, `${split}-labels.idx`);
  const [n, rows, cols] = img.dims;
  if (rows !== 28 || cols !== 28 || lab.dims[0] !== n) throw new Error(`${split} data: images ${img.dims.join('x')} and labels ${lab.dims.join('x')} do not match`);
  const pixels = new Float32Array(img.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = img.data[i] / 255;
  return { pixels, labels: Int32Array.from(lab.data), n };
}
