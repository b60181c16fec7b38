// Node-only file plumbing: atomic writes (and the removal of what a killed writer left), directory
// creation and locks, reads with path-naming errors, gzip, and locating/loading MNIST IDX files.

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants as zlibConstants, createGunzip, gunzipSync } from 'node:zlib';

import { IdxReader, parseIdx, type IdxFile, type IdxReadOptions } from '../io/idx.js';

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

/** Our temp files: `.NAME.PID.RAND.tmp`; the PID is the writer's. */
const TEMP_FILE = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === 'EPERM';
  }
}

/**
 * Removes the temporary files of atomic writes in `dir` made by this process (for an exit in the
 * middle of a write, such as a second Ctrl-C), or with `stale`, those of processes that no longer
 * exist (a kill in the middle of a write leaves them). Best effort; returns the names removed.
 */
export function removeTempFilesSync(dir: string, opts: { stale?: boolean } = {}): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_FILE.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (opts.stale ? processAlive(pid) : pid !== process.pid) continue;
    try {
      fs.rmSync(path.join(dir, n), { force: true });
      removed.push(n);
    } catch {
      /* best effort: another cleaner, or no permission */
    }
  }
  return removed;
}

// Crash tests (test/cli/kill.test.ts) set VAEGRAD_TEST_KILL_IN_WRITE="N:PHASE" to make the process
// SIGKILL itself in its Nth atomic write at PHASE: 'open' (empty temp file), 'half' (half the bytes
// written), 'synced' (before the rename) or 'renamed' (before the directory sync).
let writesStarted = 0;
function crashPoint(phase: 'open' | 'half' | 'synced' | 'renamed'): void {
  const spec = process.env.VAEGRAD_TEST_KILL_IN_WRITE;
  if (spec && spec === `${writesStarted}:${phase}`) process.kill(process.pid, 'SIGKILL');
}

/** Thrown by lockDirectory when a live process holds the lock. */
export class DirectoryLocked extends Error {
  constructor(
    readonly lockFile: string,
    readonly pid: number,
  ) {
    super(`${lockFile} is held by process ${pid}`);
    this.name = 'DirectoryLocked';
  }
}

/**
 * Takes an exclusive lock on `dir` (which must exist): the file `dir/name` holding our PID,
 * created with O_EXCL. A lock whose process no longer exists (killed) is taken over; a live one
 * throws DirectoryLocked. Returns the release function (also run at process exit).
 */
export function lockDirectory(dir: string, name: string): () => void {
  const file = path.join(dir, name);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o644);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw describeFsError('create', file, e);
    }
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      /* released meanwhile: try again */
    }
    const pid = Number(text.trim());
    // An empty lock is one whose writer died between creating and writing it (or is writing now: the retry sees it).
    if (text !== '' && Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) throw new DirectoryLocked(file, pid);
    if (attempt >= 3) throw new DirectoryLocked(file, Number.isSafeInteger(pid) ? pid : 0);
    // Stale: remove it if it still says what we read (another process may be taking it over too).
    try {
      if (fs.readFileSync(file, 'utf8') === text) fs.rmSync(file, { force: true });
    } catch {
      /* gone already */
    }
  }
  const release = (): void => {
    process.off('exit', release);
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file, { force: true });
    } catch {
      /* already gone */
    }
  };
  process.on('exit', release);
  return release;
}

/**
 * Checks that files can be created in `dir` by doing it, leaving nothing behind: a temp file when
 * `dir` exists, else the first missing directory of its path, removed again (permission bits say
 * nothing to root, and /proc or a read-only mount only refuse when asked). Errors name the path.
 */
export function checkWritableDirectorySync(dir: string): void {
  const target = path.resolve(dir);
  let p = target;
  let firstMissing: string | undefined;
  for (;;) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      if ((errCode(e) !== 'ENOENT' && errCode(e) !== 'ENOTDIR') || path.dirname(p) === p) throw describeFsError('use', p, e);
      firstMissing = p;
      p = path.dirname(p);
      continue;
    }
    if (!st.isDirectory()) throw new Error(`${p} is not a directory`);
    break;
  }
  if (firstMissing !== undefined) {
    try {
      fs.mkdirSync(firstMissing);
    } catch (e) {
      throw describeFsError('create directory', firstMissing, e);
    }
    fs.rmdirSync(firstMissing);
    return;
  }
  const probe = tempName(p, path.join(p, 'write-check'));
  try {
    fs.closeSync(fs.openSync(probe, 'wx', 0o644));
  } catch (e) {
    throw describeFsError('create files in', p, e);
  }
  fs.rmSync(probe, { force: true });
}

/**
 * Creates `dir` and its missing parents one at a time (fs.mkdir's recursive mode loops forever
 * where a file system refuses with ENOENT, as /proc does). Errors name the directory it stopped at.
 */
export function makeDirectorySync(dir: string): void {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let p = target; ; p = path.dirname(p)) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch (e) {
      if (errCode(e) !== 'ENOENT' || path.dirname(p) === p) throw describeFsError('create directory', p, e);
    }
    if (st) {
      if (!st.isDirectory()) throw new Error(`cannot create directory ${target}: ${p} is not a directory`);
      break;
    }
    missing.push(p);
  }
  for (const p of missing.reverse()) {
    try {
      fs.mkdirSync(p);
    } catch (e) {
      if (errCode(e) === 'EEXIST' && fs.statSync(p).isDirectory()) continue;
      throw describeFsError('create directory', p, e);
    }
  }
}

/**
 * Writes a file so that readers see either the old contents or the new ones, never a torn file:
 * temp file in the same directory, fsync, rename. The temp file is removed on any failure.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = await checkTargetDir(file);
  const tmp = tempName(dir, file);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  writesStarted++;
  let handle: fsp.FileHandle | undefined;
  try {
    // The temp file is created synchronously: a second Ctrl-C's handler (removeTempFilesSync, then
    // exit) runs between JS tasks, so it either lists the file or runs before it exists. An async
    // 'wx' open still in the thread pool could create it after the listing, just before the exit.
    fs.closeSync(fs.openSync(tmp, 'wx', 0o644));
    handle = await fsp.open(tmp, 'r+');
    crashPoint('open');
    const half = bytes.length >> 1;
    await handle.writeFile(bytes.subarray(0, half)); // writeFile on a handle continues at its position
    crashPoint('half');
    await handle.writeFile(bytes.subarray(half));
    await handle.sync();
    await handle.close();
    handle = undefined;
    crashPoint('synced');
    await fsp.rename(tmp, file);
    crashPoint('renamed');
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

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever (not defined on Windows).
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** What a non-regular file is, in words, for the refusal message. */
function kindOf(st: fs.Stats): string {
  return st.isDirectory() ? 'a directory'
    : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device'
    : st.isFIFO() ? 'a FIFO (named pipe)'
    : st.isSocket() ? 'a socket'
    : 'not a regular file';
}

/**
 * Refuses what is not a regular file (/dev/zero, a FIFO, a link to either would read forever) and
 * files too large for one buffer; returns the size to read. `st` comes from the open descriptor,
 * so the file checked is the file read.
 */
function checkReadable(file: string, st: fs.Stats): number {
  if (st.isDirectory()) throw new Error(`cannot read ${file}: is a directory, not a file`);
  if (!st.isFile()) throw new Error(`cannot read ${file}: it is ${kindOf(st)}, not a regular file`);
  if (st.size > MAX_READ_BYTES) throw new Error(`cannot read ${file}: it is ${st.size} bytes, beyond the ${MAX_READ_BYTES}-byte limit of one read`);
  return st.size;
}

/** One buffer's worth: the largest Uint8Array every supported Node version allocates. */
const MAX_READ_BYTES = 2 ** 31 - 1;

/**
 * Opens a regular file for reading and hands `use` the handle and the size it had when opened;
 * errors name the path ("file not found: PATH", "it is a character device, not a regular file").
 */
async function withReadableFile<T>(file: string, use: (handle: fsp.FileHandle, size: number) => Promise<T>): Promise<T> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, READ_FLAGS);
    const size = checkReadable(file, await handle.stat());
    return await use(handle, size);
  } catch (e) {
    if (e instanceof Error && (e.message.startsWith('cannot read ') || e.message.startsWith(`${file}: `))) throw e;
    throw describeFsError('read', file, e);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Reads bytes [at, end) of an open file into `out` from its offset `outAt`; returns how many arrived (fewer: the file shrank). */
async function readInto(handle: fsp.FileHandle, out: Uint8Array, outAt: number, at: number, end: number): Promise<number> {
  let got = 0;
  while (at + got < end) {
    const { bytesRead } = await handle.read(out, outAt + got, end - at - got, at + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Reads a whole regular file, at most the size it had when opened; errors name the path ("file
 * not found: PATH", "it is a character device, not a regular file").
 */
export async function readFileBytes(file: string): Promise<Uint8Array> {
  return withReadableFile(file, async (handle, size) => {
    const out = new Uint8Array(size);
    const got = await readInto(handle, out, 0, 0, size);
    return got === size ? out : out.subarray(0, got); // shrank while we read: keep what is there
  });
}

/** The synchronous twin of readFileBytes (same refusals). */
export function readFileBytesSync(file: string): Uint8Array {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, READ_FLAGS);
    const size = checkReadable(file, fs.fstatSync(fd));
    const out = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const n = fs.readSync(fd, out, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return at === size ? out : out.subarray(0, at);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('cannot read ')) throw e;
    throw describeFsError('read', file, e);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const isGzip = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/**
 * Deflate's best case is about 1032:1 (zlib's documentation); a header that promises more
 * than this many bytes per compressed byte cannot be honest. The slack covers tiny files.
 */
const MAX_GZIP_RATIO = 1032;
const GZIP_SLACK = 1 << 16;

/**
 * Streams gzip data through `take` chunk by chunk and stops as soon as it returns true, so
 * memory is bounded by what `take` keeps, not by what the data inflates to. Returns whether the
 * stream was read to its end.
 */
export async function gunzipStream(bytes: Uint8Array, source: string, take: (chunk: Uint8Array) => boolean): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const z = createGunzip();
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      z.removeAllListeners('data');
      z.destroy();
      f();
    };
    z.on('data', (chunk: Buffer) => {
      let stop: boolean;
      try {
        stop = take(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (e) {
        settle(() => reject(e));
        return;
      }
      if (stop) settle(() => resolve(false));
    });
    z.on('error', (e) => settle(() => reject(new Error(`${source}: corrupt gzip data: ${errMessage(e)}`))));
    z.on('end', () => settle(() => resolve(true)));
    z.end(bytes);
  });
}

/** Chunk size of the streaming reads: memory beyond the items kept. */
const READ_CHUNK = 1 << 20;

/**
 * Reads an IDX file, gzipped or not. `opts.maxItems` / `opts.items` keep only some items (along
 * the first dimension): the file is then read (a gzip inflated) only as far as the last one, a
 * chunk at a time, and memory holds only them, whatever the header claims.
 */
export async function loadIdxFile(file: string, opts: IdxReadOptions = {}): Promise<IdxFile> {
  if (opts.items === undefined && opts.maxItems === undefined) return parseIdxBytes(await readFileBytes(file), file, opts);
  return withReadableFile(file, async (handle, size) => {
    const first = new Uint8Array(Math.min(size, READ_CHUNK));
    let at = await readInto(handle, first, 0, 0, first.length);
    if (isGzip(first)) {
      // The compressed bytes are small next to what they inflate to: read them whole, inflate as a stream.
      const all = new Uint8Array(size);
      all.set(first.subarray(0, at));
      at += await readInto(handle, all, at, at, size);
      return parseIdxBytes(all.subarray(0, at), file, opts);
    }
    // The whole body is in the file, so a header promising more than it holds is refused as parseIdx does.
    const available = size >= 4 ? size - 4 - 4 * (first[3] as number) : 0;
    const reader = new IdxReader(file, { maxBodyBytes: Math.max(0, available), exactBody: true, ...opts });
    let done = reader.push(first.subarray(0, at));
    const chunk = new Uint8Array(READ_CHUNK);
    while (!done && at < size) {
      const got = await readInto(handle, chunk, 0, at, Math.min(size, at + READ_CHUNK));
      if (got === 0) break;
      at += got;
      done = reader.push(chunk.subarray(0, got));
    }
    return reader.finish(at >= size);
  });
}

/** loadIdxFile on bytes already in memory (gzipped or not); `source` names them in errors. */
export async function parseIdxBytes(bytes: Uint8Array, source: string, opts: IdxReadOptions = {}): Promise<IdxFile> {
  if (!isGzip(bytes)) return parseIdx(bytes, source, opts);
  const reader = new IdxReader(source, { maxBodyBytes: bytes.length * MAX_GZIP_RATIO + GZIP_SLACK, ...opts });
  const ended = await gunzipStream(bytes, source, (chunk) => reader.push(chunk));
  return reader.finish(ended);
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

/** One split of an IDX folder: ubyte images [count, rows, cols] and their labels. */
export interface IdxSplit {
  /** count x rows x cols grey levels 0..255, row-major. */
  images: Uint8Array;
  /** The label of each image kept, 0..255. */
  labels: Uint8Array;
  /** Images kept (all of the split, or those chosen by `select`). */
  count: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
}

/**
 * Reads an IDX file, gzipped or not, synchronously (datasets load like torchvision's, without
 * await). A gzip is inflated at most to the size its header declares, and refused before that
 * when the header claims more than a gzip of its size can hold; `opts` keeps only some items.
 * (Node has no synchronous streaming inflate: loadIdxFile, the asynchronous twin, also stops
 * inflating after the last item asked for.)
 */
export function loadIdxFileSync(file: string, opts: IdxReadOptions = {}): IdxFile {
  return parseIdxBytesSync(readFileBytesSync(file), file, opts);
}

/** loadIdxFileSync on bytes already in memory. */
export function parseIdxBytesSync(bytes: Uint8Array, source: string, opts: IdxReadOptions = {}): IdxFile {
  if (!isGzip(bytes)) return parseIdx(bytes, source, opts);
  const readOpts = { maxBodyBytes: bytes.length * MAX_GZIP_RATIO + GZIP_SLACK, ...opts };
  // The header from a prefix of the compressed bytes (a sync flush inflates what a prefix holds),
  // checked before anything of the size it declares is inflated.
  const probe = new IdxReader(source, readOpts);
  probe.push(gunzipSyncCapped(bytes.subarray(0, 4096), source, 8 << 20, true));
  const cap = Math.min(probe.declaredBytes() ?? readOpts.maxBodyBytes, MAX_READ_BYTES);
  const reader = new IdxReader(source, readOpts);
  reader.push(gunzipSyncCapped(bytes, source, cap));
  return reader.finish();
}

/**
 * Inflates gzip data, refusing (by name) data that inflates to more than `cap` bytes; `prefix`:
 * the bytes are the start of a stream, inflated as far as they go (a sync flush, not an end).
 */
function gunzipSyncCapped(bytes: Uint8Array, source: string, cap: number, prefix = false): Uint8Array {
  try {
    const out = gunzipSync(bytes, { maxOutputLength: cap, finishFlush: prefix ? zlibConstants.Z_SYNC_FLUSH : zlibConstants.Z_FINISH });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    if (errCode(e) === 'ERR_BUFFER_TOO_LARGE') throw new Error(`${source}: invalid IDX file: the gzip inflates to more than the ${cap} bytes its header declares (trailing bytes)`);
    throw new Error(`${source}: corrupt gzip data: ${errMessage(e)}`);
  }
}

/** Options of loadIdxSplit and loadIdxSplitAsync. */
export interface IdxSplitOptions {
  /**
   * Chooses the items to keep, given every label (a stratified subset, say): only those images
   * are kept (undefined: all of them). loadIdxSplitAsync then holds only those images at any
   * time; loadIdxSplit still inflates a gzip up to its declared size (see loadIdxFileSync).
   */
  select?: (labels: Uint8Array) => ArrayLike<number> | undefined;
}

/** The images and labels files of one split of `dir`. */
function splitPaths(dir: string, which: 'train' | 'test'): { imagesPath: string; labelsPath: string } {
  const files = findIdxRoles(dir, IDX_ROLES.filter(([role]) => role.startsWith(which)));
  return { imagesPath: files[`${which}Images`]!, labelsPath: files[`${which}Labels`]! };
}

/** The items `select` keeps of a labels file (checked to be unsigned-byte labels [n] first). */
function selectedItems(labels: IdxFile, labelsPath: string, select: IdxSplitOptions['select']): number[] | undefined {
  if (!(labels.data instanceof Uint8Array) || labels.dims.length !== 1) {
    throw new Error(`${labelsPath}: expected unsigned-byte labels of 1 dimension [n], got [${labels.dims.join(', ')}]`);
  }
  const items = select?.(labels.data);
  return items === undefined ? undefined : Array.from(items);
}

/** Cross-checks a split's images against its labels (the full counts, whatever was kept). */
function assembleSplit(images: IdxFile, labels: IdxFile, items: number[] | undefined, imagesPath: string, labelsPath: string): IdxSplit {
  if (!(images.data instanceof Uint8Array) || images.dims.length !== 3) {
    throw new Error(`${imagesPath}: expected unsigned-byte images of 3 dimensions [n, rows, cols], got ${images.dims.length} dimensions [${images.dims.join(', ')}]${images.data instanceof Uint8Array ? '' : ` of ${images.data.constructor.name}`}`);
  }
  const [count, rows, cols] = images.dims as [number, number, number];
  const nImages = images.total ?? count;
  if (labels.dims[0] !== nImages) throw new Error(`${labelsPath}: ${labels.dims[0]} labels but ${imagesPath} has ${nImages} images`);
  const all = labels.data as Uint8Array;
  return { images: images.data, labels: items ? Uint8Array.from(items, (i) => all[i]!) : all, count, rows, cols };
}

/**
 * Loads and cross-checks the images and labels of one split ('train' or 'test', i.e. t10k) of a
 * directory, synchronously.
 */
export function loadIdxSplit(dir: string, which: 'train' | 'test', opts: IdxSplitOptions = {}): IdxSplit {
  const { imagesPath, labelsPath } = splitPaths(dir, which);
  const labels = loadIdxFileSync(labelsPath);
  const items = selectedItems(labels, labelsPath, opts.select);
  return assembleSplit(loadIdxFileSync(imagesPath, items ? { items } : {}), labels, items, imagesPath, labelsPath);
}

/**
 * loadIdxSplit, streaming: the labels first, then the images file inflated chunk by chunk,
 * keeping only the images `select` chose and stopping after the last of them, so memory is
 * bounded by what is kept (a gzip of a million blank images costs what 8 of them do).
 */
export async function loadIdxSplitAsync(dir: string, which: 'train' | 'test', opts: IdxSplitOptions = {}): Promise<IdxSplit> {
  const { imagesPath, labelsPath } = splitPaths(dir, which);
  const labels = await loadIdxFile(labelsPath);
  const items = selectedItems(labels, labelsPath, opts.select);
  return assembleSplit(await loadIdxFile(imagesPath, items ? { items } : {}), labels, items, imagesPath, labelsPath);
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
