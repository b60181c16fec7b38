// The vaegrad command: parse, dispatch, and turn errors into messages and exit codes
// (0 ok, 1 failure, 2 usage error, 130 interrupted).

// The core barrel installs tensor methods and registers the backends: every entry point loads it.
import '../index.js';

import { ArgError, parseCli } from './args.js';
import type { ParsedFlags } from './args.js';
import { CliError } from './context.js';
import { evalCommand, interpolateCommand, latentCommand, reconstructCommand, sampleCommand } from './explore-commands.js';
import { serveCommand } from './serve-command.js';
import * as spec from './spec.js';
import { packageVersion } from './version.js';
import { trainCommand } from './train-command.js';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const say = (s: string): void => void io.stderr.write(`${s}\n`);
  const print = (s: string): void => void io.stdout.write(`${s}\n`);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    print(packageVersion());
    return 0;
  }
  let parsed;
  try {
    parsed = parseCli(spec.cli, argv);
  } catch (e) {
    if (e instanceof ArgError) {
      say(`vaegrad: ${e.message}`);
      say(`Run 'vaegrad ${e.command ? `${e.command} ` : ''}--help' for usage.`);
      return 2;
    }
    throw e;
  }
  if (parsed.kind === 'help') {
    io.stdout.write(parsed.text);
    return 0;
  }
  const flags = parsed.flags as never;
  try {
    switch (parsed.command) {
      case 'train': return await trainCommand(flags as ParsedFlags<typeof spec.train.flags>, parsed.given, io.stdout, io.stderr);
      case 'sample': return await sampleCommand(flags, say);
      case 'reconstruct': return await reconstructCommand(flags, say);
      case 'interpolate': return await interpolateCommand(flags, say);
      case 'latent': return await latentCommand(flags, say);
      case 'eval': return await evalCommand(flags, print, say);
      case 'serve': return await serveCommand(flags, parsed.given, say);
      default: throw new CliError(`unknown command '${parsed.command}'`);
    }
  } catch (e) {
    say(`vaegrad ${parsed.command}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
