#!/usr/bin/python3
"""PyTorch-module parity fixtures -> test/fixtures/nn/*.safetensors + test/fixtures/nn/manifest.json

Run: /usr/bin/python3 scripts/make-nn-fixtures.py   (Debian python3-torch 1.13; seeded, 1 thread)

All tensors float32 (num_batches_tracked I64 shape []). Written with scripts/safetensors_io.py.

1) One file per layer fixture, test/fixtures/nn/<name>.safetensors, keys:
     state.<k>        the module's state_dict before the forward (PyTorch keys, e.g. "state.weight",
                      "state.0.weight" inside a Sequential, "state.running_mean", ...)
     input            the input
     output           module(input)  (in the manifest's mode: train or eval)
     v                random tensor with output's shape
     loss             scalar [] = sum(output * v)
     grad.input       d loss / d input
     grad.<p>         d loss / d parameter p, for every named parameter p (PyTorch names)
     state_after.<k>  the state_dict after the forward (only for modules holding buffers, i.e.
                      BatchNorm; in train mode running_mean/var/num_batches_tracked are updated)
   header "__metadata__": {"fixture": name, "spec": JSON of the manifest entry's "spec"}.

2) The reference model's full training step lives in scripts/make-vae-step-fixture.py (compact:
   its initial weights come from a hash both sides compute).
3) manifest.json: {"generator", "torch", "dtype": "float32",
     "fixtures": [{"name", "file", "spec", "mode": "train"|"eval", "inputShape", "outputShape",
                   "params": [param names], "buffers": [buffer names], "stateAfter": bool}]}
   spec = {"module": class name, "kwargs": {python constructor kwargs}} or for Sequential
          {"module": "Sequential", "layers": [spec, ...]}.
"""
import json
import os
import sys
sys.dont_write_bytecode = True  # keep __pycache__ out of the tree

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.dirname(HERE)
OUTDIR = os.path.join(ROOT, 'test', 'fixtures', 'nn')
torch.set_num_threads(1)
torch.manual_seed(42)


def spec_of(m):
    if isinstance(m, nn.Sequential):
        return {'module': 'Sequential', 'layers': [spec_of(c) for c in m]}
    name = type(m).__name__
    if isinstance(m, nn.Linear):
        kw = {'in_features': m.in_features, 'out_features': m.out_features, 'bias': m.bias is not None}
    elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        kw = {'in_channels': m.in_channels, 'out_channels': m.out_channels, 'kernel_size': list(m.kernel_size),
              'stride': list(m.stride), 'padding': list(m.padding), 'dilation': list(m.dilation),
              'groups': m.groups, 'bias': m.bias is not None}
        if isinstance(m, nn.ConvTranspose2d):
            kw['output_padding'] = list(m.output_padding)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        kw = {'num_features': m.num_features, 'eps': m.eps, 'momentum': m.momentum, 'affine': m.affine}
    elif isinstance(m, nn.MaxPool2d):
        kw = {'kernel_size': m.kernel_size, 'stride': m.stride, 'padding': m.padding}
    elif isinstance(m, nn.AvgPool2d):
        kw = {'kernel_size': m.kernel_size, 'stride': m.stride, 'padding': m.padding,
              'count_include_pad': m.count_include_pad}
    elif isinstance(m, nn.LeakyReLU):
        kw = {'negative_slope': m.negative_slope}
    elif isinstance(m, nn.Flatten):
        kw = {'start_dim': m.start_dim, 'end_dim': m.end_dim}
    elif isinstance(m, nn.Unflatten):
        kw = {'dim': m.dim, 'unflattened_size': list(m.unflattened_size)}
    elif isinstance(m, nn.LayerNorm):
        kw = {'normalized_shape': list(m.normalized_shape), 'eps': m.eps, 'elementwise_affine': m.elementwise_affine}
    elif isinstance(m, nn.Embedding):
        kw = {'num_embeddings': m.num_embeddings, 'embedding_dim': m.embedding_dim, 'padding_idx': m.padding_idx}
    elif isinstance(m, nn.GELU):
        kw = {'approximate': m.approximate}
    elif isinstance(m, nn.ELU):
        kw = {'alpha': m.alpha}
    elif isinstance(m, (nn.Softmax, nn.LogSoftmax)):
        kw = {'dim': m.dim}
    elif isinstance(m, nn.AdaptiveAvgPool2d):
        kw = {'output_size': m.output_size}
    elif isinstance(m, nn.Dropout2d):
        kw = {'p': m.p}
    elif isinstance(m, Blocks):
        return {'module': 'Blocks', 'layers': [spec_of(c) for c in m.layers],
                'heads': {k: spec_of(c) for k, c in m.heads.items()}}
    else:
        kw = {}
    return {'module': name, 'kwargs': kw}


class Blocks(nn.Module):
    """ModuleList + ModuleDict: h = layers applied in turn, then heads['a'](h) + heads['b'](h)."""

    def __init__(self, layers, heads):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.heads = nn.ModuleDict(heads)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads['a'](x) + self.heads['b'](x)


def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.3)
                mod.running_mean.normal_(0, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
                mod.num_batches_tracked.fill_(3)


def distinct(*shape):
    n = 1
    for s in shape:
        n *= s
    return ((torch.randperm(n).float() - n / 2) * 0.01 + 0.003).reshape(*shape)


manifest = {'generator': 'scripts/make-nn-fixtures.py', 'torch': torch.__version__, 'dtype': 'float32',
            'fixtures': []}


def fixture(name, module, x, mode='train'):
    module.train(mode == 'train')
    sd0 = {k: v.clone() for k, v in module.state_dict().items()}
    x = x.clone().requires_grad_(x.is_floating_point())  # integer inputs (Embedding's indices) take no gradient
    out = module(x)
    v = torch.randn(out.shape)
    loss = (out * v).sum()
    loss.backward()
    t = {'input': x.detach(), 'output': out.detach(), 'v': v, 'loss': loss.detach()}
    if x.grad is not None:
        t['grad.input'] = x.grad
    for k, val in sd0.items():
        t['state.' + k] = val
    params = [k for k, _ in module.named_parameters()]
    for k, p in module.named_parameters():
        t['grad.' + k] = p.grad
    buffers = [k for k, _ in module.named_buffers()]
    if buffers:
        for k, val in module.state_dict().items():
            t['state_after.' + k] = val.clone()
    spec = spec_of(module)
    fname = name + '.safetensors'
    write_safetensors(os.path.join(OUTDIR, fname), t, {'fixture': name, 'spec': json.dumps(spec)})
    manifest['fixtures'].append({'name': name, 'file': fname, 'spec': spec, 'mode': mode,
                                 'inputShape': list(x.shape), 'outputShape': list(out.shape),
                                 'params': params, 'buffers': buffers, 'stateAfter': bool(buffers)})


os.makedirs(OUTDIR, exist_ok=True)

fixture('linear', nn.Linear(5, 3), torch.randn(4, 5))
fixture('linear_nobias', nn.Linear(6, 4, bias=False), torch.randn(2, 6))
fixture('conv2d', nn.Conv2d(3, 4, 3, padding=1), torch.randn(2, 3, 6, 6))
fixture('conv2d_stride2_groups2_k3x2', nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2), torch.randn(2, 4, 7, 6))
fixture('conv2d_dilation2_nobias', nn.Conv2d(2, 3, 3, dilation=2, padding=2, bias=False), torch.randn(2, 2, 6, 6))
fixture('conv_transpose2d', nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), torch.randn(2, 4, 4, 4))
fixture('conv_transpose2d_outpad_groups2', nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
        torch.randn(2, 2, 3, 3))
for mode in ('train', 'eval'):
    bn = nn.BatchNorm1d(6)
    randomize_bn(bn)
    fixture('batchnorm1d_' + mode, bn, torch.randn(8, 6) * 1.5 + 0.4, mode)
    bn = nn.BatchNorm2d(3)
    randomize_bn(bn)
    fixture('batchnorm2d_' + mode, bn, torch.randn(4, 3, 3, 3) * 1.5 + 0.4, mode)
fixture('maxpool2d', nn.MaxPool2d(2), distinct(2, 3, 6, 6))
fixture('maxpool2d_k3_s2_p1', nn.MaxPool2d(3, stride=2, padding=1), distinct(2, 2, 7, 7))
fixture('avgpool2d', nn.AvgPool2d(2), torch.randn(2, 3, 6, 6))
fixture('avgpool2d_k3_s2_p1_exclude_pad', nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        torch.randn(2, 2, 7, 7))


def nonzero(*shape):
    x = torch.randn(*shape) * 2
    return torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)


fixture('relu', nn.ReLU(), nonzero(3, 7))
fixture('leakyrelu', nn.LeakyReLU(0.1), nonzero(3, 7))
fixture('leakyrelu_default', nn.LeakyReLU(), nonzero(3, 7))
fixture('sigmoid', nn.Sigmoid(), torch.randn(3, 7) * 3)
fixture('tanh', nn.Tanh(), torch.randn(3, 7) * 2)
fixture('flatten', nn.Flatten(), torch.randn(2, 3, 2, 2))
fixture('unflatten', nn.Unflatten(1, (3, 2, 2)), torch.randn(2, 12))

enc = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(4 * 4 * 4, 5), nn.BatchNorm1d(5), nn.LeakyReLU(0.2),
                    nn.Linear(5, 3), nn.Sigmoid())
fixture('sequential_encoder_train', enc, torch.rand(3, 1, 8, 8))
enc2 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
                     nn.Flatten(), nn.Linear(4 * 4 * 4, 5), nn.Tanh())
randomize_bn(enc2)
fixture('sequential_encoder_eval', enc2, torch.rand(3, 1, 8, 8), 'eval')
dec = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Unflatten(1, (4, 2, 2)),
                    nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                    nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1), nn.Tanh())
fixture('sequential_decoder_train', dec, torch.randn(4, 3))

# ---------------- issue 13's layers (appended: the fixtures above keep their random draws) ----------------
for shape, x in (([6], torch.randn(3, 6) * 2 + 0.5), ([4, 5], torch.randn(2, 3, 4, 5) * 1.5 - 0.3)):
    ln = nn.LayerNorm(shape)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.normal_(0, 0.3)
    fixture('layernorm_' + 'x'.join(map(str, shape)), ln, x)
fixture('layernorm_noaffine', nn.LayerNorm(5, eps=1e-3, elementwise_affine=False), torch.randn(4, 5))
fixture('gelu', nn.GELU(), torch.randn(3, 7) * 2)
fixture('gelu_tanh', nn.GELU(approximate='tanh'), torch.randn(3, 7) * 2)
fixture('silu', nn.SiLU(), torch.randn(3, 7) * 2)
fixture('elu', nn.ELU(), nonzero(3, 7))
fixture('elu_alpha0.5', nn.ELU(alpha=0.5), nonzero(3, 7))
fixture('softmax_dim1', nn.Softmax(dim=1), torch.randn(3, 5, 2) * 2)
fixture('softmax_dim-1', nn.Softmax(dim=-1), torch.randn(4, 6) * 3)
fixture('logsoftmax_dim1', nn.LogSoftmax(dim=1), torch.randn(4, 6) * 3)
fixture('adaptive_avgpool2d_1', nn.AdaptiveAvgPool2d(1), torch.randn(2, 3, 5, 5))
fixture('adaptive_avgpool2d_3x2_uneven', nn.AdaptiveAvgPool2d((3, 2)), torch.randn(2, 2, 7, 5))
fixture('adaptive_avgpool2d_none_4', nn.AdaptiveAvgPool2d((None, 4)), torch.randn(1, 2, 3, 6))
fixture('dropout2d_eval', nn.Dropout2d(0.3), torch.randn(2, 3, 2, 2), 'eval')
fixture('modulelist_moduledict', Blocks([nn.Linear(4, 6), nn.GELU(), nn.LayerNorm(6)],
                                        {'a': nn.Linear(6, 3), 'b': nn.Linear(6, 3, bias=False)}), torch.randn(5, 4))
fixture('embedding', nn.Embedding(7, 3), torch.tensor([[1, 4, 4], [0, 6, 1]]))
fixture('embedding_padding_idx', nn.Embedding(5, 2, padding_idx=1), torch.tensor([1, 3, 1, 0, 3]))

# ---------------- the reference model: one full training step ----------------
with open(os.path.join(OUTDIR, 'manifest.json'), 'w') as f:
    json.dump(manifest, f, indent=1)
    f.write('\n')
tot = sum(os.path.getsize(os.path.join(OUTDIR, n)) for n in os.listdir(OUTDIR))
print('wrote %d layer fixtures to %s (%d bytes total)' % (len(manifest['fixtures']), OUTDIR, tot), file=sys.stderr)
