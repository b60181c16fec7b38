// Shared by the browser suites: Debian's Chromium, its flags for a closed network, the repository
// root, and the rule that a missing Chromium skips a suite locally but fails it in CI.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Chromium is absent (outside CI the suites skip; in CI their setup fails, naming the package). */
export const missing = !existsSync(CHROMIUM);

// Without the background-networking flags Chromium keeps trying (and failing) to reach Google's
// hosts on a closed network.
export const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

/** `describe`, or `describe.skip` with a notice when Chromium is absent outside CI. */
export function browserSuite(name: string): typeof describe | typeof describe.skip {
  const skip = missing && !process.env.CI;
  if (skip) console.warn(`notice: skipping the ${name} suite: ${CHROMIUM} is absent (apt-get install chromium)`);
  return skip ? describe.skip : describe;
}
