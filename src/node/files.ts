// Node-only file plumbing: atomic writes, reads with path-naming errors, gzip, and locating/loading MNIST IDX files.

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

import { parseIdx, type IdxFile } from '../io/idx.js';

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Turns an fs error into one that names the file and says what went wrong in words. */
function describeFsError(action: string, file: string, e: unknown): Error {
  const code = errCode(e);
  const why =
    code === 'ENOENT' ? 'file not found'
    : code === 'EISDIR' ? 'is a directory, not a file'
    : code === 'ENOTDIR' ? 'a component of the path is not a directory'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOSPC' ? 'no space left on the device'
    : code === 'EROFS' ? 'read-only file system'
    : errMessage(e);
  const err = new Error(code === 'ENOENT' && action === 'read' ? `file not found: ${file}` : `cannot ${action} ${file}: ${why}`);
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

async function checkTargetDir(file: string): Promise<string> {
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats;
  try {
    st = await fsp.stat(dir);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') throw new Error(`cannot write ${file}: directory ${dir} does not exist`);
    if (code === 'ENOTDIR') throw new Error(`cannot write ${file}: ${dir} is not a directory (a component of it is a file)`);
    throw describeFsError('write', file, e);
  }
  if (!st.isDirectory()) throw new Error(`cannot write ${file}: ${dir} is not a directory`);
  return dir;
}

function tempName(dir: string, file: string): string {
  // Same directory as the target so that rename() stays on one file system and is atomic.
  return path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Removes the temporary files this process's atomic writes have in `dir` (for an exit in the
 * middle of a write, such as a second Ctrl-C); best effort.
 */
export function removeTempFilesSync(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith('.') && n.endsWith('.tmp') && n.includes(`.${process.pid}.`)) fs.rmSync(path.join(dir, n), { force: true });
  }
}

/**
 * Writes a file so that readers see either the old contents or the new ones, never a torn file:
 * temp file in the same directory, fsync, rename. The temp file is removed on any failure.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = await checkTargetDir(file);
  const tmp = tempName(dir, file);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx', 0o644);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, file);
  } catch (e) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (errCode(e) === 'EISDIR' || (await isDirectory(file))) throw new Error(`cannot write ${file}: it is a directory`);
    throw describeFsError('write', file, e);
  }
  await syncDir(dir);
}

/** The synchronous twin of writeFileAtomic, for exit paths and simple scripts. */
export function writeFileAtomicSync(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if (errCode(e) === 'ENOENT') throw new Error(`cannot write ${file}: directory ${dir} does not exist`);
    if (errCode(e) === 'ENOTDIR') throw new Error(`cannot write ${file}: ${dir} is not a directory (a component of it is a file)`);
    throw describeFsError('write', file, e);
  }
  if (!st.isDirectory()) throw new Error(`cannot write ${file}: ${dir} is not a directory`);
  const tmp = tempName(dir, file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing: the original error is the one to report */
      }
    }
    fs.rmSync(tmp, { force: true });
    let isDir = false;
    try {
      isDir = fs.statSync(file).isDirectory();
    } catch {
      /* absent target: not a directory */
    }
    if (isDir) throw new Error(`cannot write ${file}: it is a directory`);
    throw describeFsError('write', file, e);
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    /* see syncDir */
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable on Linux; some platforms (Windows) cannot open a directory, which is harmless.
  try {
    const h = await fsp.open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    /* best effort */
  }
}

/** Reads a whole file; errors name the path ("file not found: PATH"). */
export async function readFileBytes(file: string): Promise<Uint8Array> {
  try {
    const buf = await fsp.readFile(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw describeFsError('read', file, e);
  }
}

export function readFileBytesSync(file: string): Uint8Array {
  try {
    const buf = fs.readFileSync(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw describeFsError('read', file, e);
  }
}

/** Decompresses gzip data (recognised by its 1f 8b magic); anything else is returned as it is. */
export function gunzipIfNeeded(bytes: Uint8Array, source = '<buffer>'): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new Error(`${source}: corrupt gzip data: ${errMessage(e)}`);
  }
}

/** Reads an IDX file, gzipped or not. */
export async function loadIdxFile(file: string): Promise<IdxFile> {
  return parseIdx(gunzipIfNeeded(await readFileBytes(file), file), file);
}

export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

const IDX_ROLES: [keyof IdxFiles, string, string][] = [
  ['trainImages', 'train-images', 'idx3-ubyte'],
  ['trainLabels', 'train-labels', 'idx1-ubyte'],
  ['testImages', 't10k-images', 'idx3-ubyte'],
  ['testLabels', 't10k-labels', 'idx1-ubyte'],
];

/** The standard name of each file and the spellings accepted for it, preferred first. */
function candidates(stem: string, kind: string): string[] {
  const names = [`${stem}-${kind}`, `${stem}.${kind}`];
  return names.flatMap((n) => [n, `${n}.gz`]);
}

/**
 * Finds the four standard MNIST / Fashion-MNIST IDX files in a directory (plain or .gz, and the
 * `train-images.idx3-ubyte` spelling some mirrors use). The error lists what is missing.
 */
export async function findIdxFiles(dir: string): Promise<IdxFiles> {
  return findIdxRoles(dir, IDX_ROLES) as IdxFiles;
}

/** The files of `roles` in `dir`; the error lists the missing ones. */
function findIdxRoles(dir: string, roles: typeof IDX_ROLES): Partial<IdxFiles> {
  let names: string[];
  try {
    const st = fs.statSync(dir);
    if (!st.isDirectory()) throw new Error(`data directory ${dir} is not a directory`);
    names = fs.readdirSync(dir);
  } catch (e) {
    if (errCode(e) === 'ENOENT') throw new Error(`data directory not found: ${dir}`);
    if (e instanceof Error && e.message.startsWith('data directory')) throw e;
    throw describeFsError('read directory', dir, e);
  }
  const present = new Set(names);
  const found: Partial<IdxFiles> = {};
  const missing: string[] = [];
  for (const [role, stem, kind] of roles) {
    const hit = candidates(stem, kind).find((n) => present.has(n));
    if (hit === undefined) missing.push(`${stem}-${kind}[.gz]`);
    else found[role] = path.join(dir, hit);
  }
  if (missing.length > 0) {
    const expected = IDX_ROLES.map(([, s, k]) => `${s}-${k}[.gz]`).join(', ');
    throw new Error(`${dir}: missing IDX file(s): ${missing.join(', ')} (expected the four files ${expected})`);
  }
  return found;
}

export interface IdxSplit {
  /** count x rows x cols grey levels 0..255, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** Reads an IDX file, gzipped or not, synchronously (datasets load like torchvision's, without await). */
export function loadIdxFileSync(file: string): IdxFile {
  return parseIdx(gunzipIfNeeded(readFileBytesSync(file), file), file);
}

/**
 * Loads and cross-checks the images and labels of one split ('train' or 'test', i.e. t10k) of a
 * directory, synchronously.
 */
export function loadIdxSplit(dir: string, which: 'train' | 'test'): IdxSplit {
  const roles = IDX_ROLES.filter(([role]) => role.startsWith(which));
  const files = findIdxRoles(dir, roles);
  const imagesPath = files[`${which}Images`]!;
  const labelsPath = files[`${which}Labels`]!;
  const images = loadIdxFileSync(imagesPath);
  const labels = loadIdxFileSync(labelsPath);
  if (!(images.data instanceof Uint8Array) || images.dims.length !== 3) {
    throw new Error(`${imagesPath}: expected unsigned-byte images of 3 dimensions [n, rows, cols], got ${images.dims.length} dimensions [${images.dims.join(', ')}]${images.data instanceof Uint8Array ? '' : ` of ${images.data.constructor.name}`}`);
  }
  if (!(labels.data instanceof Uint8Array) || labels.dims.length !== 1) {
    throw new Error(`${labelsPath}: expected unsigned-byte labels of 1 dimension [n], got [${labels.dims.join(', ')}]`);
  }
  const [count, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new Error(`${labelsPath}: ${labels.dims[0]} labels but ${imagesPath} has ${count} images`);
  }
  return { images: images.data, labels: labels.data, count, rows, cols };
}

/** Loads and cross-checks the four IDX files of a directory: ubyte images [n, rows, cols] and labels [n]. */
export async function loadIdxDataset(dir: string): Promise<{ train: IdxSplit; test: IdxSplit }> {
  const train = loadIdxSplit(dir, 'train');
  const test = loadIdxSplit(dir, 'test');
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new Error(`${dir}: training images are ${train.rows}x${train.cols} but test images are ${test.rows}x${test.cols}`);
  }
  return { train, test };
}
