#!/usr/bin/python3
"""float32 Adam / AdamW trajectories from PyTorch, for test/nn/adam-f32.test.ts.

Run with Debian's torch: /usr/bin/python3 scripts/make-adam-fixtures.py
Writes test/fixtures/adam-f32.safetensors: float32 parameters of several sizes (1 to 1000, so
that PyTorch's vectorised loops and their scalar tails both run), holding ordinary values, zeros,
tiny and huge ones; one gradient per step (ordinary, zero, tiny: squares underflow, huge: squares
overflow to inf); and for each optimiser case, every parameter after each step and the moments
after the last step, from torch.optim.Adam / AdamW (the default single-tensor path; the script
checks that the foreach path gives the same bits).

Tensors: p0 [N], grads [STEPS, N] (N: the sizes concatenated, metadata 'sizes'), and per case c
  c.p [STEPS, N], c.exp_avg [N], c.exp_avg_sq [N]; metadata 'cases' holds the cases' kwargs.

It also prints which of two candidate float32 formulas each PyTorch kernel Adam uses matches
(the vectorised add-with-alpha and addcmul end in a fused multiply-add on this build), as
evidence for the operation order of src/backend/js/optim.ts.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import write_safetensors  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
STEPS = 5
SIZES = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 33, 1000]
N = sum(SIZES)
CASES = [
    ('adam', 'Adam', dict(lr=1e-3)),
    ('adam_l2', 'Adam', dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ('adamw', 'AdamW', dict(lr=1e-3)),
    ('adamw_wd', 'AdamW', dict(lr=3e-2, betas=(0.5, 0.9), weight_decay=0.5)),
]


def mixed(n, scale_tiny, scale_huge, gen):
    """Normal values, with every 11th zero, every 13th tiny and every 17th huge (positions shift by call)."""
    x = torch.randn(n, generator=gen)
    i = torch.arange(n)
    x[i % 11 == 3] = 0
    x[i % 13 == 5] *= scale_tiny
    x[i % 17 == 7] *= scale_huge
    return x.float()


gen = torch.Generator().manual_seed(1)
p0 = mixed(N, 1e-30, 1e8, gen)
p0[10] = 1e-40  # a subnormal parameter
grads = []
for s in range(STEPS):
    g = mixed(N, [1e-20, 1e-3, 1e-25, 1, 1e-22][s], [1e3, 1e19, 1e5, 1e21, 1e2][s], gen)
    if s == 1:
        g[N - 400:N - 380] = 0  # a run of zero gradients after a non-zero one
    grads.append(g)
grads = torch.stack(grads)


def run(cls, kwargs, foreach):
    params, off = [], 0
    for n in SIZES:
        params.append(p0[off:off + n].clone().requires_grad_())
        off += n
    opt = getattr(torch.optim, cls)(params, foreach=foreach, **kwargs)
    traj = []
    for s in range(STEPS):
        off = 0
        for p, n in zip(params, SIZES):
            p.grad = grads[s, off:off + n].clone()
            off += n
        opt.step()
        traj.append(torch.cat([p.detach() for p in params]))
    st = [opt.state[p] for p in params]
    return torch.stack(traj), torch.cat([x['exp_avg'] for x in st]), torch.cat([x['exp_avg_sq'] for x in st])


tensors = {'p0': p0, 'grads': grads}
for name, cls, kwargs in CASES:
    p, m, v = run(cls, kwargs, False)
    pf, mf, vf = run(cls, kwargs, True)
    same = all(torch.equal(a.view(torch.int32), b.view(torch.int32)) for a, b in [(p, pf), (m, mf), (v, vf)])
    print(f'{name}: foreach path bit-identical to single-tensor: {same}; non-finite params {int((~torch.isfinite(p[-1])).sum())}')
    tensors[f'{name}.p'], tensors[f'{name}.exp_avg'], tensors[f'{name}.exp_avg_sq'] = p, m, v


def kernel_evidence():
    """Which float32 formula PyTorch's kernels follow, on 100,003 random elements (vector loops and tails)."""
    a, b, c = torch.randn(100_003), torch.randn(100_003), torch.rand(100_003)
    A, B, C = (x.numpy().astype(np.float64) for x in (a, b, c))
    f = np.float32
    s = float(f(0.1))
    got = a.add(b, alpha=0.1).numpy()
    fused = (A + s * B).astype(f)
    print('add(alpha): fused', (got == fused).mean(), '| mul then add', (got == a.numpy() + f(0.1) * b.numpy()).mean())
    got = c.addcmul(a, a, value=0.001).numpy()
    t = (f(0.001) * a.numpy()).astype(np.float64)
    print('addcmul: (s * t1) * t2 + self fused', (got == (C + t * A).astype(f)).mean(),
          '| unfused', (got == c.numpy() + f(0.001) * a.numpy() * a.numpy()).mean())
    print('div by a double scalar: by its float32', ((c / 0.7).numpy() == c.numpy() / f(0.7)).mean())
    d = c + 0.1
    got = a.addcdiv(b, d, value=-0.003).numpy()
    print('addcdiv: self + (s * t1) / t2 in float32', (got == a.numpy() + (f(-0.003) * b.numpy()) / d.numpy()).mean())


kernel_evidence()
meta = {'generator': 'scripts/make-adam-fixtures.py', 'torch': torch.__version__, 'sizes': json.dumps(SIZES), 'steps': str(STEPS),
        'cases': json.dumps([{'name': n, 'optimizer': c, 'kwargs': k} for n, c, k in CASES]),
        'cpu': next((ln.strip() for ln in torch.__config__.show().splitlines() if 'CPU capability' in ln), 'unknown')}
write_safetensors('test/fixtures/adam-f32.safetensors', tensors, meta)
print('wrote test/fixtures/adam-f32.safetensors', os.path.getsize('test/fixtures/adam-f32.safetensors'), 'bytes')
