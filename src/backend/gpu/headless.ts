// Node only (loaded by dynamic import from ./index.ts): the display-less GL path, prepared before
// gpu.js first creates a GL context, and the diagnosis when no context comes.
//
// gpu.js's headlessgl mode runs on the `gl` package that gpu.js itself resolves. vaegrad pins
// gl 9.0.0-rc.10, which ships a prebuilt ANGLE: with no X display, ANGLE's Vulkan backend
// (ANGLE_DEFAULT_PLATFORM=vulkan) reaches the GPU through the system's Vulkan loader and the
// vendor's driver (or Mesa's lavapipe, a CPU device). That ANGLE looks for the loader only in its
// own folder (gl/build/Release/libvulkan.so.1), so this module links the system's loader there,
// inside the gl package that gpu.js loads (vaegrad's own dependency tree) and nowhere else, once,
// where the folder is writable. Nothing here runs in browsers.

import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The gl version vaegrad is tested with (a release candidate: the first with a prebuilt ANGLE). */
export const GL_VERSION = '9.0.0-rc.10';

/** What prepareHeadlessGl found and did, for the diagnosis when no GL context comes. */
export interface HeadlessGlSetup {
  /** The gl package folder gpu.js resolves, or null when gpu.js cannot resolve gl. */
  glDir: string | null;
  glVersion: string | null;
  /** Why gl could not be resolved or linked, if it could not. */
  glProblem: string | null;
  /** ANGLE_DEFAULT_PLATFORM as prepared ('vulkan' when there is no display), or undefined. */
  platform: string | undefined;
  /** The system's Vulkan loader (libvulkan.so.1), or null when none was found. */
  systemLoader: string | null;
  /** The loader link in gl's folder exists (made now or earlier). */
  loaderLinked: boolean;
  /** Vulkan driver manifests (ICDs) found: file names. */
  icds: string[];
}

const LOADER = 'libvulkan.so.1';

const env = (): Record<string, string | undefined> => process.env;

/** Library folders where a distribution puts libvulkan.so.1. */
function libraryDirs(): string[] {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : process.arch === 'x64' ? 'x86_64-linux-gnu' : process.arch;
  const fromEnv = (env().LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return [...fromEnv, `/usr/lib/${triplet}`, `/lib/${triplet}`, '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib'];
}

/** The system's Vulkan loader: the library folders, then the linker cache (ldconfig -p). */
export function findSystemVulkanLoader(dirs: readonly string[] = libraryDirs()): string | null {
  for (const d of dirs) {
    const p = join(d, LOADER);
    if (existsSync(p)) return p;
  }
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    if (!existsSync(ldconfig)) continue;
    try {
      const out = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const arch = process.arch === 'arm64' ? 'AArch64' : 'x86-64';
      const line = out.split('\n').find((l) => l.includes(`${LOADER} `) && l.includes(arch));
      const path = line?.split('=> ')[1]?.trim();
      if (path && existsSync(path)) return path;
    } catch { /* no cache: not found */ }
  }
  return null;
}

/** Vulkan driver manifests the loader would read (VK_DRIVER_FILES / VK_ICD_FILENAMES win). */
export function findVulkanIcds(): string[] {
  const e = env();
  const explicit = e.VK_DRIVER_FILES ?? e.VK_ICD_FILENAMES;
  if (explicit) return explicit.split(':').filter((f) => f && existsSync(f)).map((f) => f.split('/').pop()!);
  const dataDirs = (e.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':').filter(Boolean);
  const dirs = ['/etc/vulkan/icd.d', ...dataDirs.map((d) => join(d, 'vulkan/icd.d'))];
  const out: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of readdirSync(d)) if (f.endsWith('.json')) out.push(f);
    } catch { /* absent */ }
  }
  return out;
}

/** The gl package folder that gpu.js resolves (where its headlessgl mode loads gl from). */
function resolveGl(): { dir: string | null; version: string | null; problem: string | null } {
  try {
    const req = createRequire(import.meta.url);
    const gpuMain = req.resolve('gpu.js');
    const pkg = createRequire(gpuMain).resolve('gl/package.json');
    const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? null;
    return { dir: dirname(pkg), version, problem: null };
  } catch (e) {
    return { dir: null, version: null, problem: `gpu.js cannot resolve the \`gl\` package (${(e as Error).message.split('\n')[0]})` };
  }
}

/**
 * Prepare the headless GL path before gpu.js creates its first context: with no display
 * (neither DISPLAY nor WAYLAND_DISPLAY) and no ANGLE_DEFAULT_PLATFORM of the user's, select
 * ANGLE's Vulkan backend; link the system's Vulkan loader into the gl folder gpu.js loads if it
 * is not there. Idempotent; never throws (what fails is reported by diagnoseNoGl).
 */
export function prepareHeadlessGl(): HeadlessGlSetup {
  const e = env();
  const gl = resolveGl();
  const headless = !e.DISPLAY && !e.WAYLAND_DISPLAY;
  if (headless && !e.ANGLE_DEFAULT_PLATFORM && process.platform === 'linux') e.ANGLE_DEFAULT_PLATFORM = 'vulkan';
  const platform = e.ANGLE_DEFAULT_PLATFORM;
  const systemLoader = process.platform === 'linux' ? findSystemVulkanLoader() : null;
  let loaderLinked = false;
  let glProblem = gl.problem;
  if (gl.dir && process.platform === 'linux') {
    const link = join(gl.dir, 'build', 'Release', LOADER);
    let present = false;
    try {
      statSync(link); // follows the link: a dangling one counts as absent
      present = true;
    } catch { /* absent or dangling */ }
    if (!present && systemLoader && existsSync(dirname(link))) {
      try {
        if (isSymlink(link)) unlinkSync(link); // dangling (the system loader moved)
        symlinkSync(systemLoader, link);
        present = true;
      } catch (err) {
        glProblem = `could not link the Vulkan loader into gl's folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run once, as the owner of node_modules, \`ln -s ${systemLoader} ${link}\``;
      }
    }
    loaderLinked = present;
  }
  return { glDir: gl.dir, glVersion: gl.version, glProblem, platform, systemLoader, loaderLinked, icds: process.platform === 'linux' ? findVulkanIcds() : [] };
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Why gpu.js found no GL context, naming what to install: the message for `--device gpu` when
 * GPU.js would fall back to its webasm or cpu mode.
 */
export function diagnoseNoGl(s: HeadlessGlSetup): string {
  const fix: string[] = [];
  if (!s.glDir) {
    fix.push(`${s.glProblem ?? 'gpu.js cannot resolve the `gl` package'}: install it with \`npm install gl@${GL_VERSION}\``);
  } else if (!s.glVersion?.startsWith('9.')) {
    fix.push(`gpu.js loads gl ${s.glVersion} from ${s.glDir}, which needs an X display (gl 8 builds a GLX-only ANGLE): install gl@${GL_VERSION} so that gpu.js loads it ` +
      `(\`npm install gl@${GL_VERSION}\` plus "overrides": { "gl": "${GL_VERSION}" } in package.json, or install with --omit=optional so that gpu.js's own gl 8 is left out)`);
  } else if (s.platform === 'vulkan') {
    if (!s.systemLoader) fix.push('no Vulkan loader (libvulkan.so.1) was found: install it (Debian/Ubuntu: `apt-get install libvulkan1`; Fedora: vulkan-loader)');
    else if (!s.loaderLinked) fix.push(s.glProblem ?? `the Vulkan loader is not linked into ${join(s.glDir, 'build', 'Release')}`);
    if (s.icds.length === 0) {
      fix.push('no Vulkan driver (ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d) was found: install your GPU vendor\'s driver ' +
        '(NVIDIA\'s ships its Vulkan driver), or `apt-get install mesa-vulkan-drivers` (lavapipe: a CPU device, for testing only)');
    }
    if (fix.length === 0) fix.push(`ANGLE could not start on Vulkan with the drivers found (${s.icds.join(', ')}): see ANGLE's error above; \`vulkaninfo --summary\` (vulkan-tools) lists the devices the loader sees`);
  } else {
    fix.push(`ANGLE could not create a context on its '${s.platform ?? 'default (X11/GLX)'}' platform${env().DISPLAY ? ` with DISPLAY=${env().DISPLAY}` : ''}: ` +
      'unset DISPLAY (and ANGLE_DEFAULT_PLATFORM) to use the Vulkan path, or fix the display');
  }
  return fix.join('\n');
}
