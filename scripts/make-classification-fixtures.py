#!/usr/bin/python3
"""Classification-loss fixtures computed with PyTorch (float64) -> test/fixtures/classification.json.

Run: /usr/bin/python3 scripts/make-classification-fixtures.py   (Debian python3-torch 1.13; seeded)

File schema:
{ "generator", "torch", "dtype": "float64",
  "cases": [ {
    "name": unique case name,
    "op": "cross_entropy" | "nll_loss",
    "args": {"reduction", "ignoreIndex", "labelSmoothing" (cross_entropy only), "weighted": bool},
    "inputs": {"x": TENSOR, "target": TENSOR (int class indices, or float probabilities shaped as x),
               "weight": TENSOR (only when weighted)},
    "v": TENSOR shaped as the output (the upstream gradient),
    "output": TENSOR,
    "grads": {"x": TENSOR, "target": TENSOR (probability targets only)}   = d sum(output * v) / d ...
  } ] }
TENSOR: {"shape": [...], "data": [flat row-major numbers]} (NaN written as null).
"""
import json
import math
import zlib
import torch
import torch.nn.functional as F


def tj(t):
    return {'shape': list(t.shape), 'data': [None if (isinstance(v, float) and math.isnan(v)) else v for v in t.reshape(-1).tolist()]}


def case(name, op, x_shape, target_kind, reduction='mean', ignore_index=-100, smoothing=0.0, weighted=False, ignore_frac=0.0, all_ignored=False):
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    x = torch.randn(x_shape, generator=gen, dtype=torch.float64)
    if op == 'nll_loss':
        x = x.log_softmax(1 if len(x_shape) > 1 else 0)
    x.requires_grad_(True)
    c = x_shape[1] if len(x_shape) > 1 else x_shape[0]
    t_shape = ([x_shape[0]] + list(x_shape[2:])) if len(x_shape) > 1 else []
    if target_kind == 'probs':
        target = torch.rand(x_shape, generator=gen, dtype=torch.float64)
        target = (target / target.sum(1 if len(x_shape) > 1 else 0, keepdim=True)).requires_grad_(True)
    else:
        target = torch.randint(0, c, t_shape, generator=gen)
        if ignore_frac > 0 or all_ignored:
            mask = torch.rand(t_shape, generator=gen) < ignore_frac
            if all_ignored:
                mask[...] = True
            target = torch.where(mask, torch.full_like(target, ignore_index), target)
    weight = (torch.rand([c], generator=gen, dtype=torch.float64) + 0.2) if weighted else None
    if op == 'cross_entropy':
        out = F.cross_entropy(x, target, weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    else:
        out = F.nll_loss(x, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    v = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    grads = {}
    wrt = [x] + ([target] if target_kind == 'probs' else [])
    if not all_ignored:
        gs = torch.autograd.grad((out * v).sum(), wrt)
        grads['x'] = tj(gs[0])
        if target_kind == 'probs':
            grads['target'] = tj(gs[1])
    inputs = {'x': tj(x.detach()), 'target': tj(target.detach())}
    if weighted:
        inputs['weight'] = tj(weight)
    args = {'reduction': reduction, 'ignoreIndex': ignore_index, 'weighted': weighted}
    if op == 'cross_entropy':
        args['labelSmoothing'] = smoothing
    return {'name': name, 'op': op, 'args': args, 'inputs': inputs, 'v': tj(v), 'output': tj(out.detach()), 'grads': grads}


def main():
    cases = []
    for op in ['cross_entropy', 'nll_loss']:
        for reduction in ['mean', 'sum', 'none']:
            for weighted in [False, True]:
                for ignore in [(-100, 0.0), (2, 0.3)]:
                    smooths = [0.0, 0.1, 0.35] if op == 'cross_entropy' else [0.0]
                    for s in smooths:
                        name = f'{op}_{reduction}_{"w" if weighted else "nw"}_ign{ignore[0]}_s{s}'
                        cases.append(case(name, op, [7, 5], 'index', reduction, ignore[0], s, weighted, ignore[1]))
        # spatial [N, C, H, W] and unbatched [C]
        cases.append(case(f'{op}_spatial_w_ign', op, [3, 4, 2, 3], 'index', 'mean', 1, 0.2 if op == 'cross_entropy' else 0.0, True, 0.25))
        cases.append(case(f'{op}_spatial_none', op, [2, 3, 4], 'index', 'none', -100, 0.0, False, 0.0))
        cases.append(case(f'{op}_unbatched_sum', op, [6], 'index', 'sum', -100, 0.0, True, 0.0))
        cases.append(case(f'{op}_all_ignored_mean', op, [4, 3], 'index', 'mean', -100, 0.0, False, 0.0, all_ignored=True))
    for reduction in ['mean', 'sum', 'none']:
        for weighted in [False, True]:
            for s in [0.0, 0.2]:
                cases.append(case(f'cross_entropy_probs_{reduction}_{"w" if weighted else "nw"}_s{s}', 'cross_entropy', [5, 4], 'probs', reduction, -100, s, weighted))
    cases.append(case('cross_entropy_probs_spatial', 'cross_entropy', [2, 3, 2, 2], 'probs', 'mean', -100, 0.1, True))
    doc = {'generator': 'scripts/make-classification-fixtures.py', 'torch': torch.__version__, 'dtype': 'float64', 'cases': cases}
    with open('test/fixtures/classification.json', 'w') as f:
        json.dump(doc, f)
    print(f'{len(cases)} cases')


if __name__ == '__main__':
    main()
