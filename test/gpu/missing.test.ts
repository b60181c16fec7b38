// setBackend('gpu') without gpu.js installed: a clear message saying what to install.
import { describe, expect, it, vi } from 'vitest';

describe("setBackend('gpu') when gpu.js is missing", () => {
  it('rejects with install instructions (npm install gpu.js gl; the Vulkan loader for headless Node)', async () => {
    vi.resetModules();
    vi.doMock('gpu.js', () => { throw new Error("Cannot find package 'gpu.js'"); });
    const { createGpuBackend } = await import('../../src/backend/gpu/index.js');
    const err = await createGpuBackend({}).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain('npm install gpu.js gl@9.0.0-rc.10');
    expect(err!.message).toContain('libvulkan1');
    vi.doUnmock('gpu.js');
  });
});
