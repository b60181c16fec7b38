// Parity with PyTorch: forward values and gradients of sum(out * v) for the functional ops,
// against test/fixtures/ops.json (float64, written by scripts/make-fixtures.py; its docstring
// has the schema). Inputs are exact in JSON, so the tolerance is float64 round-off.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';

interface TensorJson { shape: number[]; data: number[] }
interface Case {
  op: string;
  name: string;
  args: Record<string, unknown>;
  inputs: Record<string, TensorJson>;
  v: TensorJson;
  output: TensorJson;
  grads: Record<string, TensorJson>;
  extra?: Record<string, TensorJson>;
}

const FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ops.json');

beforeAll(async () => {
  await vg.setBackend('js');
});

type Pair = number | [number, number];
type Inputs = Record<string, vg.Tensor>;
const A = <T>(c: Case, k: string): T => c.args[k] as T;

/** The library call for each fixture op; `t` holds the inputs as float64 leaves. */
const OPS: Record<string, (t: Inputs, c: Case) => vg.Tensor> = {
  conv2d: (t, c) => vg.F.conv2d(t.x!, t.weight!, t.bias ?? null, { stride: A<Pair>(c, 'stride'), padding: A<Pair>(c, 'padding'), dilation: A<Pair>(c, 'dilation'), groups: A<number>(c, 'groups') }),
  conv_transpose2d: (t, c) =>
    vg.F.convTranspose2d(t.x!, t.weight!, t.bias ?? null, {
      stride: A<Pair>(c, 'stride'), padding: A<Pair>(c, 'padding'), dilation: A<Pair>(c, 'dilation'), groups: A<number>(c, 'groups'), outputPadding: A<Pair>(c, 'outputPadding'),
    }),
  max_pool2d: (t, c) => vg.F.maxPool2d(t.x!, A<Pair>(c, 'kernelSize'), { stride: A<Pair>(c, 'stride'), padding: A<Pair>(c, 'padding') }),
  avg_pool2d: (t, c) => vg.F.avgPool2d(t.x!, A<Pair>(c, 'kernelSize'), { stride: A<Pair>(c, 'stride'), padding: A<Pair>(c, 'padding'), countIncludePad: A<boolean>(c, 'countIncludePad') }),
  batch_norm: (t, c) => vg.F.batchNorm(t.x!, t.running_mean!, t.running_var!, t.weight ?? null, t.bias ?? null, { training: A<boolean>(c, 'training'), momentum: A<number>(c, 'momentum'), eps: A<number>(c, 'eps') }),
  binary_cross_entropy_with_logits: (t, c) => vg.F.binaryCrossEntropyWithLogits(t.x!, t.target!, { reduction: A<vg.F.Reduction>(c, 'reduction') }),
  binary_cross_entropy: (t, c) => vg.F.binaryCrossEntropy(t.x!, t.target!, { reduction: A<vg.F.Reduction>(c, 'reduction') }),
  mse_loss: (t, c) => vg.F.mseLoss(t.x!, t.target!, { reduction: A<vg.F.Reduction>(c, 'reduction') }),
  l1_loss: (t, c) => vg.F.l1Loss(t.x!, t.target!, { reduction: A<vg.F.Reduction>(c, 'reduction') }),
  gaussian_kl: (t, c) => vg.F.gaussianKl(t.mu!, t.logvar!, { reduction: A<vg.F.Reduction>(c, 'reduction') }),
  softmax: (t, c) => vg.F.softmax(t.x!, A<number>(c, 'dim')),
  log_softmax: (t, c) => vg.F.logSoftmax(t.x!, A<number>(c, 'dim')),
  logsumexp: (t, c) => vg.F.logsumexp(t.x!, A<number>(c, 'dim'), A<boolean>(c, 'keepdim')),
  var: (t, c) => t.x!.var(A<number | null>(c, 'dim') ?? undefined, { unbiased: A<boolean>(c, 'unbiased'), keepdim: A<boolean>(c, 'keepdim') }),
  linear: (t) => vg.F.linear(t.x!, t.weight!, t.bias ?? null),
};

function expectNear(actual: vg.Tensor, want: TensorJson, what: string): void {
  expect(actual.shape, `${what} shape`).toEqual(want.shape);
  const a = actual.dataSync();
  let worst = 0;
  let at = -1;
  const scale = Math.max(1, ...want.data.map(Math.abs));
  for (let i = 0; i < want.data.length; i++) {
    const err = Math.abs(a[i]! - want.data[i]!);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  // relative to the largest magnitude in the tensor: round-off of sums of ~1e2 float64 terms
  if (!(worst <= 1e-10 * scale)) throw new Error(`${what}: element ${at} is ${a[at]}, PyTorch has ${want.data[at]} (error ${worst})`);
}

const present = existsSync(FILE);
const cases: Case[] = present ? (JSON.parse(readFileSync(FILE, 'utf8')) as { cases: Case[] }).cases : [];

describe('PyTorch parity fixtures (test/fixtures/ops.json)', () => {
  it('the fixture file exists and covers every op', () => {
    expect(present, `${FILE} is missing: run /usr/bin/python3 scripts/make-fixtures.py`).toBe(true);
    const ops = new Set(cases.map((c) => c.op));
    for (const op of Object.keys(OPS)) expect(ops.has(op), `no fixture for ${op}`).toBe(true);
    for (const op of ops) expect(OPS[op], `fixture op ${op} has no mapping in this test`).toBeDefined();
  });

  for (const c of cases) {
    it(`${c.name}: output and gradients`, () => {
      const t: Inputs = {};
      for (const [k, v] of Object.entries(c.inputs)) {
        t[k] = vg.tensor(Float64Array.from(v.data), { shape: v.shape, requiresGrad: k in c.grads });
      }
      const out = OPS[c.op]!(t, c);
      expect(out.dtype).toBe('float64');
      expectNear(out, c.output, `${c.name} output`);
      if (c.extra) for (const [k, v] of Object.entries(c.extra)) expectNear(t[k]!, v, `${c.name} ${k}`);
      const v = vg.tensor(Float64Array.from(c.v.data), { shape: c.v.shape });
      out.mul(v).sum().backward();
      for (const [k, g] of Object.entries(c.grads)) {
        expect(t[k]!.grad, `${c.name}: no gradient for ${k}`).not.toBeNull();
        expectNear(t[k]!.grad!, g, `${c.name} grad ${k}`);
      }
    });
  }
});
