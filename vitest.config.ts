import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// Files that run one at a time, after the rest, each alone on the machine: GPU.js on lavapipe (a
// CPU Vulkan device) and in cpu mode, whose shader compiles and draws slow down several-fold when
// another file shares the cores while a training step is one synchronous stretch (vitest's worker
// RPC times out when a worker's event loop is blocked for 60 s), and the browser suite, whose page
// trains and runs t-SNE on worker threads of its own. (Each is a project of its own sequence
// group: groups run one after another, and vitest 3.2 has one worker count for every project.)
const alone = ['test/gpu/train.test.ts', 'test/gpu/step.test.ts', 'test/gpu/headlessgl.test.ts', 'test/browser/explorer.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/setup/yield-between-tests.ts'],
    // The JSON report is what .ci/run counts; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    // Two files at once even on two cores (vitest's default there is one): most files are
    // single-threaded or wait on child processes.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...alone], sequence: { groupOrder: 0 } } },
      ...alone.map((file, i) => ({ extends: true, test: { name: file.replace(/^test\/|\.test\.ts$/g, ''), include: [file], sequence: { groupOrder: i + 1 } } })),
    ],
  },
});
