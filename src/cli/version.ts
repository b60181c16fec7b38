// The package's version, read from its package.json (found upwards from this module, so the
// same code works from src/ under the tests and from dist/src/ in the installed package).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vaegrad' && pkg.version) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find vaegrad's package.json above the CLI");
    dir = up;
  }
}
