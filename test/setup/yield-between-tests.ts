// Every test starts on a fresh turn of the event loop. vitest runs a file's tests back to back
// without one (awaiting a settled promise is a microtask), so a file of synchronous tests holds
// its worker's event loop from its first test to its last, and vitest's worker RPC times out, and
// fails the run, when that passes 60 s. With a macrotask before each test the hold is one test.
import { beforeEach } from 'vitest';

beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
