// Shared by tests that run a node child process: spawn it without blocking the test worker's
// event loop (a synchronous wait of over a minute makes vitest's worker RPC time out), collect
// its output, and report how it ended.
import { spawn, type ChildProcess } from 'node:child_process';

export interface SpawnResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed with SIGKILL after this many milliseconds (default: never). */
  timeoutMs?: number;
  /** Sees the child's stderr so far, and the child, as output comes. */
  onStderr?: (text: string, child: ChildProcess) => void;
  onSpawn?: (child: ChildProcess) => void;
}

/** `node ARGS...` as a child process; resolves when it has exited and its streams are closed. */
export function spawnNode(args: string[], opts: SpawnOptions = {}): Promise<SpawnResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onSpawn?.(child);
    const timer = opts.timeoutMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr, child);
    });
    const stopTimer = (): void => { if (timer) clearTimeout(timer); };
    child.on('error', (e) => { stopTimer(); fail(e); });
    child.on('close', (code, signal) => { stopTimer(); done({ code: code ?? -1, signal, stdout, stderr }); });
  });
}
