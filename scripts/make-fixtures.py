#!/usr/bin/python3
"""Functional-op parity fixtures computed with PyTorch (float64) -> test/fixtures/ops.json.

Run: /usr/bin/python3 scripts/make-fixtures.py   (Debian python3-torch 1.13; seeded, deterministic)

File schema:
{
  "generator": "scripts/make-fixtures.py", "torch": "<version>", "dtype": "float64",
  "cases": [ CASE, ... ]
}
CASE:
{
  "op":   one of conv2d | conv_transpose2d | max_pool2d | avg_pool2d | batch_norm |
          binary_cross_entropy_with_logits | binary_cross_entropy | mse_loss | l1_loss |
          gaussian_kl | softmax | log_softmax | logsumexp | var | linear,
  "name": unique case name, e.g. "conv2d_stride2_groups2",
  "args": the Python keyword arguments of the torch.nn.functional call, camelCase keys:
          stride, padding, dilation, groups, outputPadding, kernelSize, countIncludePad,
          training, momentum, eps, reduction, dim, keepdim, unbiased.  Each spatial arg is an
          int (same for H and W) or a [h, w] list, exactly as passed to torch.  For pools,
          "stride" is always given explicitly.  For var, "dim": null means over all elements.
  "inputs": { name: TENSOR }   (tensor names per op below; every TENSOR is {"shape", "data"})
  "v":      TENSOR with the output's shape (shape [] for a scalar output)
  "output": TENSOR  = the op's result
  "grads":  { input name: TENSOR } = d/d input of sum(output * v), for every differentiable input
  "extra":  (batch_norm with training=true only) {"running_mean": TENSOR, "running_var": TENSOR}
            = running statistics after the call (momentum update, unbiased batch variance)
}
TENSOR: {"shape": [d0, d1, ...], "data": [flat row-major numbers]}.
Input names per op:
  conv2d, conv_transpose2d: x, weight, bias (bias absent when the case has no bias)
      conv_transpose2d weight layout is [in, out/groups, kH, kW] as in PyTorch.
  linear: x, weight [out, in], bias
  max_pool2d, avg_pool2d, softmax, log_softmax, logsumexp, var: x
      (max_pool2d inputs hold distinct values, so there are no ties)
  batch_norm: x, weight, bias, running_mean, running_var  (gradients for x, weight, bias only;
      x is [N, C] or [N, C, H, W]; weight/bias absent when "affine": false in args)
  binary_cross_entropy_with_logits: x (logits), target
  binary_cross_entropy: x (probabilities), target
  mse_loss, l1_loss: x, target                (gradients for x and target)
  gaussian_kl: mu, logvar, both [N, D]; per row kl_i = -0.5 * sum_j(1 + logvar - mu^2 - exp(logvar));
      reduction "sum" -> sum_i kl_i (the formula over all elements), "mean" -> mean_i kl_i
      (the VAE loss convention: mean over batch of per-image sums), "none" -> [N] of kl_i.
Inputs are rounded to 6 decimals before the torch computation, so the JSON values are exact.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
DT = torch.float64
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), 'test', 'fixtures', 'ops.json')

cases = []


def rnd(*shape, scale=1.0, lo=None, hi=None):
    if lo is not None:
        t = torch.rand(tuple(shape), dtype=DT) * (hi - lo) + lo
    else:
        t = torch.randn(tuple(shape), dtype=DT) * scale
    return torch.round(t * 1e6) / 1e6


def distinct(*shape):
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n).to(DT)
    return ((perm - n / 2) * 0.01 + 0.001).reshape(*shape)


def T(t):
    t = t.detach()
    return {'shape': list(t.shape), 'data': [float(x) for x in t.reshape(-1).tolist()]}


def add(op, name, fn, inputs, args, grad_names=None, extra_fn=None):
    """fn(**tensors) -> output tensor. inputs: name -> tensor (float64)."""
    tens = {}
    for k, t in inputs.items():
        t = t.clone()
        if grad_names is None or k in grad_names:
            t.requires_grad_(True)
        tens[k] = t
    out = fn(**tens)
    v = rnd(*out.shape)
    (out * v).sum().backward()
    case = {'op': op, 'name': name, 'args': args,
            'inputs': {k: T(t) for k, t in inputs.items()},
            'v': T(v), 'output': T(out),
            'grads': {k: T(t.grad) for k, t in tens.items() if t.grad is not None}}
    if extra_fn:
        case['extra'] = extra_fn(tens)
    assert name not in {c['name'] for c in cases}, name
    cases.append(case)


# ---------------- conv2d ----------------
def conv_case(name, xs, ws, bias=True, **kw):
    args = {'stride': kw.get('stride', 1), 'padding': kw.get('padding', 0),
            'dilation': kw.get('dilation', 1), 'groups': kw.get('groups', 1)}
    inputs = {'x': rnd(*xs), 'weight': rnd(*ws, scale=0.5)}
    if bias:
        inputs['bias'] = rnd(ws[0], scale=0.5)
    add('conv2d', name, lambda x, weight, bias=None: F.conv2d(
        x, weight, bias, args['stride'], args['padding'], args['dilation'], args['groups']), inputs, args)


conv_case('conv2d_basic', [2, 3, 5, 5], [4, 3, 3, 3])
conv_case('conv2d_nobias', [2, 3, 5, 5], [4, 3, 3, 3], bias=False)
conv_case('conv2d_pad1', [2, 1, 6, 6], [3, 1, 3, 3], padding=1)
conv_case('conv2d_stride2_pad1', [2, 2, 7, 7], [3, 2, 3, 3], stride=2, padding=1)
conv_case('conv2d_stride2_nonsquare_input', [1, 2, 7, 6], [2, 2, 3, 3], stride=2)
conv_case('conv2d_kernel2x3_stride21_pad10', [2, 2, 5, 6], [3, 2, 2, 3], stride=[2, 1], padding=[1, 0])
conv_case('conv2d_dilation2_pad2', [1, 2, 7, 7], [3, 2, 3, 3], dilation=2, padding=2)
conv_case('conv2d_dilation21_kernel3x2', [1, 2, 7, 6], [2, 2, 3, 2], dilation=[2, 1], padding=[1, 1])
conv_case('conv2d_groups2', [2, 4, 5, 5], [6, 2, 3, 3], groups=2, padding=1)
conv_case('conv2d_stride2_groups2_nobias', [1, 4, 6, 6], [4, 2, 3, 3], groups=2, stride=2, bias=False)
conv_case('conv2d_depthwise', [2, 3, 5, 5], [3, 1, 3, 3], groups=3, padding=1)
conv_case('conv2d_1x1', [2, 3, 4, 4], [5, 3, 1, 1])
conv_case('conv2d_kernel4_stride2_pad1', [2, 2, 8, 8], [2, 2, 4, 4], stride=2, padding=1)


# ---------------- conv_transpose2d ----------------
def convt_case(name, xs, ws, bias=True, **kw):
    args = {'stride': kw.get('stride', 1), 'padding': kw.get('padding', 0),
            'outputPadding': kw.get('output_padding', 0), 'groups': kw.get('groups', 1),
            'dilation': kw.get('dilation', 1)}
    inputs = {'x': rnd(*xs), 'weight': rnd(*ws, scale=0.5)}
    if bias:
        inputs['bias'] = rnd(ws[1] * args['groups'], scale=0.5)
    add('conv_transpose2d', name, lambda x, weight, bias=None: F.conv_transpose2d(
        x, weight, bias, args['stride'], args['padding'], args['outputPadding'], args['groups'],
        args['dilation']), inputs, args)


convt_case('conv_transpose2d_basic', [2, 3, 3, 3], [3, 2, 3, 3])
convt_case('conv_transpose2d_nobias', [2, 3, 3, 3], [3, 2, 2, 2], bias=False)
convt_case('conv_transpose2d_k4_s2_p1', [2, 3, 4, 4], [3, 2, 4, 4], stride=2, padding=1)
convt_case('conv_transpose2d_s2_outpad1', [1, 2, 3, 3], [2, 2, 3, 3], stride=2, padding=1, output_padding=1)
convt_case('conv_transpose2d_s3_p1_outpad2', [1, 2, 3, 2], [2, 1, 3, 3], stride=3, padding=1, output_padding=2)
convt_case('conv_transpose2d_kernel2x3_stride21', [2, 2, 3, 4], [2, 3, 2, 3], stride=[2, 1], padding=[0, 1])
convt_case('conv_transpose2d_groups2', [2, 4, 3, 3], [4, 1, 3, 3], groups=2, stride=2)
convt_case('conv_transpose2d_dilation2', [1, 2, 3, 3], [2, 2, 3, 3], dilation=2, padding=1)
convt_case('conv_transpose2d_dilation2_s2_outpad1', [1, 2, 3, 3], [2, 2, 2, 2], dilation=2, stride=2,
           output_padding=1)


# ---------------- pools ----------------
def maxpool_case(name, xs, k, s, p=0):
    args = {'kernelSize': k, 'stride': s, 'padding': p}
    add('max_pool2d', name, lambda x: F.max_pool2d(x, k, s, p), {'x': distinct(*xs)}, args)


maxpool_case('max_pool2d_k2_s2', [2, 3, 6, 6], 2, 2)
maxpool_case('max_pool2d_k2_s2_odd', [1, 2, 7, 7], 2, 2)
maxpool_case('max_pool2d_k3_s2_p1', [2, 2, 7, 7], 3, 2, 1)
maxpool_case('max_pool2d_k3_s1', [1, 2, 5, 5], 3, 1)
maxpool_case('max_pool2d_k2x3_s21_p11', [1, 2, 5, 6], [2, 3], [2, 1], [1, 1])


def avgpool_case(name, xs, k, s, p=0, cip=True):
    args = {'kernelSize': k, 'stride': s, 'padding': p, 'countIncludePad': cip}
    add('avg_pool2d', name, lambda x: F.avg_pool2d(x, k, s, p, count_include_pad=cip), {'x': rnd(*xs)}, args)


avgpool_case('avg_pool2d_k2_s2', [2, 3, 6, 6], 2, 2)
avgpool_case('avg_pool2d_k3_s2_p1_include_pad', [2, 2, 7, 7], 3, 2, 1, True)
avgpool_case('avg_pool2d_k3_s2_p1_exclude_pad', [2, 2, 7, 7], 3, 2, 1, False)
avgpool_case('avg_pool2d_k2x3_s12_p11_exclude_pad', [1, 2, 5, 6], [2, 3], [1, 2], [1, 1], False)
avgpool_case('avg_pool2d_k2x3_s12_p11_include_pad', [1, 2, 5, 6], [2, 3], [1, 2], [1, 1], True)


# ---------------- batch_norm ----------------
def bn_case(name, xs, training, affine=True, momentum=0.1, eps=1e-5):
    C = xs[1]
    args = {'training': training, 'momentum': momentum, 'eps': eps, 'affine': affine}
    inputs = {'x': rnd(*xs, scale=2.0) + 0.5}
    if affine:
        inputs['weight'] = rnd(C, lo=0.5, hi=1.5)
        inputs['bias'] = rnd(C, scale=0.5)
    inputs['running_mean'] = rnd(C, scale=0.3)
    inputs['running_var'] = rnd(C, lo=0.5, hi=2.0)
    holder = {}

    def fn(x, running_mean, running_var, weight=None, bias=None):
        rm, rv = running_mean.clone(), running_var.clone()
        holder['rm'], holder['rv'] = rm, rv
        return F.batch_norm(x, rm, rv, weight, bias, training, momentum, eps)

    add('batch_norm', name, fn, inputs, args, grad_names={'x', 'weight', 'bias'},
        extra_fn=(lambda t: {'running_mean': T(holder['rm']), 'running_var': T(holder['rv'])}) if training else None)


bn_case('batch_norm_train_2d', [6, 4], True)
bn_case('batch_norm_train_4d', [3, 4, 3, 3], True)
bn_case('batch_norm_train_4d_noaffine', [2, 3, 2, 3], True, affine=False)
bn_case('batch_norm_train_2d_momentum03', [5, 3], True, momentum=0.3, eps=1e-3)
bn_case('batch_norm_eval_2d', [6, 4], False)
bn_case('batch_norm_eval_4d', [3, 4, 3, 3], False)

# ---------------- losses ----------------
for red in ('mean', 'sum', 'none'):
    add('binary_cross_entropy_with_logits', 'bce_with_logits_' + red,
        lambda x, target: F.binary_cross_entropy_with_logits(x, target, reduction=red),
        {'x': torch.cat([rnd(3, 4, scale=3.0), torch.tensor([[40.0, -40.0, 0.0, 15.5]], dtype=DT)]),
         'target': rnd(4, 4, lo=0.0, hi=1.0)}, {'reduction': red})
for red in ('mean', 'sum', 'none'):
    add('binary_cross_entropy', 'bce_' + red,
        lambda x, target: F.binary_cross_entropy(x, target, reduction=red),
        {'x': rnd(3, 5, lo=0.05, hi=0.95), 'target': rnd(3, 5, lo=0.0, hi=1.0)}, {'reduction': red},
        grad_names={'x'})
for red in ('mean', 'sum', 'none'):
    add('mse_loss', 'mse_' + red, lambda x, target: F.mse_loss(x, target, reduction=red),
        {'x': rnd(3, 4), 'target': rnd(3, 4)}, {'reduction': red})
    add('l1_loss', 'l1_' + red, lambda x, target: F.l1_loss(x, target, reduction=red),
        {'x': rnd(3, 4), 'target': rnd(3, 4)}, {'reduction': red})


def kl(mu, logvar, red):
    per = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return {'sum': per.sum(), 'mean': per.mean(), 'none': per}[red]


for red in ('sum', 'mean', 'none'):
    add('gaussian_kl', 'gaussian_kl_' + red, lambda mu, logvar: kl(mu, logvar, red),
        {'mu': rnd(4, 5), 'logvar': rnd(4, 5, scale=0.7)}, {'reduction': red})

# ---------------- softmax family ----------------
add('softmax', 'softmax_dim1', lambda x: F.softmax(x, dim=1), {'x': rnd(3, 5, scale=2)}, {'dim': 1})
add('softmax', 'softmax_dim0_3d', lambda x: F.softmax(x, dim=0), {'x': rnd(3, 2, 4, scale=2)}, {'dim': 0})
add('softmax', 'softmax_dim-1_large', lambda x: F.softmax(x, dim=-1),
    {'x': rnd(2, 4, scale=2) + torch.tensor([[1000.0], [-1000.0]], dtype=DT)}, {'dim': -1})
add('log_softmax', 'log_softmax_dim1', lambda x: F.log_softmax(x, dim=1), {'x': rnd(3, 5, scale=2)}, {'dim': 1})
add('log_softmax', 'log_softmax_dim1_3d', lambda x: F.log_softmax(x, dim=1), {'x': rnd(2, 3, 4, scale=2)},
    {'dim': 1})
add('log_softmax', 'log_softmax_dim-1_large', lambda x: F.log_softmax(x, dim=-1),
    {'x': rnd(2, 4, scale=2) + torch.tensor([[1000.0], [-1000.0]], dtype=DT)}, {'dim': -1})
add('logsumexp', 'logsumexp_dim1', lambda x: torch.logsumexp(x, dim=1), {'x': rnd(3, 5, scale=2)},
    {'dim': 1, 'keepdim': False})
add('logsumexp', 'logsumexp_dim0_keepdim', lambda x: torch.logsumexp(x, dim=0, keepdim=True),
    {'x': rnd(3, 4, scale=2)}, {'dim': 0, 'keepdim': True})
add('logsumexp', 'logsumexp_dim-1_large', lambda x: torch.logsumexp(x, dim=-1),
    {'x': rnd(2, 3, 4, scale=2) + 800.0}, {'dim': -1, 'keepdim': False})

# ---------------- var ----------------
add('var', 'var_all_unbiased', lambda x: torch.var(x, unbiased=True), {'x': rnd(3, 4)},
    {'dim': None, 'unbiased': True, 'keepdim': False})
add('var', 'var_all_biased', lambda x: torch.var(x, unbiased=False), {'x': rnd(3, 4)},
    {'dim': None, 'unbiased': False, 'keepdim': False})
add('var', 'var_dim0_unbiased', lambda x: torch.var(x, dim=0, unbiased=True), {'x': rnd(4, 3)},
    {'dim': 0, 'unbiased': True, 'keepdim': False})
add('var', 'var_dim1_biased_keepdim', lambda x: torch.var(x, dim=1, unbiased=False, keepdim=True),
    {'x': rnd(3, 5)}, {'dim': 1, 'unbiased': False, 'keepdim': True})
add('var', 'var_dim-1_unbiased_3d', lambda x: torch.var(x, dim=-1, unbiased=True), {'x': rnd(2, 3, 4)},
    {'dim': -1, 'unbiased': True, 'keepdim': False})

# ---------------- linear ----------------
add('linear', 'linear_basic', lambda x, weight, bias: F.linear(x, weight, bias),
    {'x': rnd(3, 4), 'weight': rnd(5, 4, scale=0.5), 'bias': rnd(5, scale=0.5)}, {})
add('linear', 'linear_nobias', lambda x, weight: F.linear(x, weight),
    {'x': rnd(2, 3, 4), 'weight': rnd(2, 4, scale=0.5)}, {})

os.makedirs(os.path.dirname(OUT), exist_ok=True)
doc = {'generator': 'scripts/make-fixtures.py', 'torch': torch.__version__, 'dtype': 'float64', 'cases': cases}
with open(OUT, 'w') as f:
    json.dump(doc, f, separators=(',', ':'))
    f.write('\n')
print('wrote %s: %d cases, %d bytes' % (OUT, len(cases), os.path.getsize(OUT)), file=sys.stderr)
