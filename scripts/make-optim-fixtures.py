#!/usr/bin/python3
"""Optimiser and scheduler trajectories from PyTorch, for test/nn/optim.test.ts.

Run with Debian's torch: /usr/bin/python3 scripts/make-optim-fixtures.py
Writes test/fixtures/optim.json: for each case, the initial parameter, the gradients fed at each
step (a fixed sequence, so the test needs no model), and the parameter after every step; for
schedulers, the lr after every step; for clip_grad_norm_, the norm and the clipped gradients.
"""
import json
import math
import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
STEPS = 5
p0 = torch.randn(3, 4)
grads = [torch.randn(3, 4) for _ in range(STEPS)]


def run(make_opt):
    p = p0.clone().requires_grad_()
    opt = make_opt([p])
    traj = []
    for g in grads:
        opt.zero_grad()
        p.grad = g.clone()
        opt.step()
        traj.append(p.detach().flatten().tolist())
    return traj


cases = []
for name, kwargs in [
    ('sgd', dict(lr=0.1)),
    ('sgd_momentum', dict(lr=0.1, momentum=0.9)),
    ('sgd_momentum_dampening_wd', dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ('sgd_nesterov', dict(lr=0.1, momentum=0.9, nesterov=True)),
]:
    cases.append({'name': name, 'optimizer': 'SGD', 'kwargs': kwargs, 'traj': run(lambda ps: torch.optim.SGD(ps, **kwargs))})
for name, cls, kwargs in [
    ('adam', torch.optim.Adam, dict(lr=1e-2)),
    ('adam_wd_betas', torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ('adamw', torch.optim.AdamW, dict(lr=1e-2)),
    ('adamw_wd', torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.5)),
]:
    cases.append({'name': name, 'optimizer': cls.__name__, 'kwargs': {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                  'traj': run(lambda ps: cls(ps, **kwargs))})

scheds = []
for name, make, kwargs in [
    ('StepLR', torch.optim.lr_scheduler.StepLR, dict(step_size=2, gamma=0.5)),
    ('ExponentialLR', torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.9)),
    ('CosineAnnealingLR', torch.optim.lr_scheduler.CosineAnnealingLR, dict(T_max=6, eta_min=0.01)),
    ('LinearLR', torch.optim.lr_scheduler.LinearLR, dict(start_factor=0.25, total_iters=4)),
]:
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    s = make(opt, **kwargs)
    lrs = [opt.param_groups[0]['lr']]
    for _ in range(8):
        opt.step()
        s.step()
        lrs.append(opt.param_groups[0]['lr'])
    scheds.append({'name': name, 'kwargs': kwargs, 'lrs': lrs})

a = torch.randn(2, 3, requires_grad=True)
b = torch.randn(4, requires_grad=True)
a.grad = torch.randn(2, 3)
b.grad = torch.randn(4)
ga, gb = a.grad.flatten().tolist(), b.grad.flatten().tolist()
norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0).item()
clip = {'grads': [ga, gb], 'maxNorm': 1.0, 'norm': norm, 'clipped': [a.grad.flatten().tolist(), b.grad.flatten().tolist()]}

out = {'generator': 'scripts/make-optim-fixtures.py', 'torch': torch.__version__, 'p0': p0.flatten().tolist(),
       'shape': list(p0.shape), 'grads': [g.flatten().tolist() for g in grads], 'cases': cases, 'schedulers': scheds, 'clip': clip}
with open('test/fixtures/optim.json', 'w') as f:
    json.dump(out, f)
print('wrote test/fixtures/optim.json')
