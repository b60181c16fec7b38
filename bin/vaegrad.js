#!/usr/bin/env node
// The `vaegrad` command: runs the compiled CLI (npm run build makes dist/).
import { main } from '../dist/src/cli/index.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`vaegrad: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
