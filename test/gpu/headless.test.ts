// The display-less GL path and the renderer report: prepareHeadlessGl (ANGLE on Vulkan, the
// Vulkan loader linked into gl's folder), the diagnosis naming what is missing, and what
// `--device gpu` reports about the renderer (software: true on lavapipe, a CPU Vulkan device).
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { configureGpuBackend } from '../../src/backend/gpu/index.js';
import { GL_VERSION, diagnoseNoGl, findSystemVulkanLoader, prepareHeadlessGl, type HeadlessGlSetup } from '../../src/backend/gpu/headless.js';
import { chooseBackend } from '../../src/cli/context.js';
import { headlessglUnavailable } from './helpers.js';

const why = headlessglUnavailable();
const inCI = !!process.env.CI;
const ok: HeadlessGlSetup = { glDir: '/x/node_modules/gl', glVersion: GL_VERSION, glProblem: null, platform: 'vulkan', systemLoader: '/usr/lib/libvulkan.so.1', loaderLinked: true, icds: ['nvidia_icd.json'] };

describe('display-less GL setup', () => {
  it('finds the system Vulkan loader in the library folders first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vaegrad-vk-'));
    try {
      writeFileSync(join(dir, 'libvulkan.so.1'), '');
      expect(findSystemVulkanLoader([dir])).toBe(join(dir, 'libvulkan.so.1'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const s = prepareHeadlessGl();
  if (!s.glDir && !inCI) console.warn(`notice: gl is not installed here (${s.glProblem}): skipping the loader link test`);
  it.runIf(process.platform === 'linux' && (!!s.glDir || inCI))('selects ANGLE\'s Vulkan backend with no display and links the system loader into the gl folder gpu.js loads', () => {
    expect(s.glVersion).toBe(GL_VERSION); // the pinned release candidate (package.json overrides gpu.js's gl 8)
    if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) expect(s.platform).toBe(process.env.ANGLE_DEFAULT_PLATFORM ?? 'vulkan');
    if (s.systemLoader) {
      expect(s.loaderLinked).toBe(true);
      expect(realpathSync(join(s.glDir!, 'build/Release/libvulkan.so.1'))).toBe(realpathSync(s.systemLoader));
    } else {
      expect(diagnoseNoGl(s)).toContain('apt-get install libvulkan1');
    }
  });

  it('names what is missing: gl, gl 9, the Vulkan loader, a Vulkan driver, a working display', () => {
    expect(diagnoseNoGl({ ...ok, glDir: null, glVersion: null, glProblem: 'gpu.js cannot resolve the `gl` package' })).toContain(`npm install gl@${GL_VERSION}`);
    const gl8 = diagnoseNoGl({ ...ok, glVersion: '8.1.6' });
    expect(gl8).toContain('gl 8.1.6');
    expect(gl8).toContain(`"overrides": { "gl": "${GL_VERSION}" }`);
    expect(diagnoseNoGl({ ...ok, systemLoader: null, loaderLinked: false })).toContain('apt-get install libvulkan1');
    expect(diagnoseNoGl({ ...ok, loaderLinked: false, glProblem: 'could not link the Vulkan loader (EACCES): run once ... ln -s' })).toContain('ln -s');
    const noDriver = diagnoseNoGl({ ...ok, icds: [] });
    expect(noDriver).toMatch(/no Vulkan driver/);
    expect(noDriver).toContain('mesa-vulkan-drivers');
    expect(noDriver).not.toContain('libvulkan1');
    expect(diagnoseNoGl(ok)).toContain('nvidia_icd.json');
    expect(diagnoseNoGl({ ...ok, platform: undefined })).toMatch(/unset DISPLAY/);
  });
});

const suite = why && !inCI ? describe.skip : describe;
if (why && !inCI) console.warn(`notice: skipping the headless renderer report: ${why}`);

suite('renderer report in headlessgl mode', () => {
  afterAll(async () => { await vg.setBackend('wasm'); });

  it('getBackendInfo() and --device gpu name the renderer and flag a software one', async () => {
    if (why) throw new Error(`CI is set but ${why}`);
    configureGpuBackend({});
    const lines: string[] = [];
    const running = await chooseBackend('gpu', 'wasm', (l) => lines.push(l));
    const info = vg.getBackendInfo();
    expect(info.mode).toBe('headlessgl');
    // ANGLE's own string (headless gl's JavaScript says only 'ANGLE'), naming the device it picked
    expect(info.renderer).toMatch(/^ANGLE \(.+\)$/);
    if (process.env.ANGLE_DEFAULT_PLATFORM === 'vulkan') expect(info.renderer).toMatch(/Vulkan/);
    const cpuDevice = /llvmpipe|lavapipe|swiftshader/i.test(info.renderer!);
    expect(info.software).toBe(cpuDevice);
    expect(lines[0]).toBe(`--device gpu: GPU.js headlessgl mode, renderer: ${info.renderer}`);
    expect(running).toContain(info.renderer);
    if (cpuDevice) expect(lines[1]).toMatch(/^warning: this renderer is not a GPU .*--device cpu/);
    else expect(lines).toHaveLength(1);
    console.log(`renderer: ${info.renderer} (vendor ${info.vendor}, software ${info.software})`);
  });
});
