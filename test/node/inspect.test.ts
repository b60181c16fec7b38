// console.log in Node prints tensors and modules as their toString(), through util.inspect.custom.

import { formatWithOptions, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';

describe('util.inspect', () => {
  it('prints a tensor as toString(), alone and inside other values', () => {
    const t = vg.tensor([[1, 2.5], [3, 4]], { requiresGrad: true });
    expect(inspect(t)).toBe(t.toString());
    expect(formatWithOptions({}, '%o', t)).toBe(t.toString());
    expect(inspect({ weight: t })).toContain(t.toString().split('\n')[0]);
    expect(inspect(t)).not.toMatch(/_storage|_requiresGrad/);
  });

  it('prints a module as toString()', () => {
    const m = new vg.nn.Sequential(new vg.nn.Linear(4, 3), new vg.nn.ReLU());
    expect(inspect(m)).toBe(m.toString());
    expect(inspect(m)).toMatch(/^Sequential\(\n {2}\(0\): Linear\(/);
  });
});
