#!/usr/bin/python3
"""One full training step of the reference ConvVAE in PyTorch, as a compact fixture.

Run with Debian's torch: /usr/bin/python3 scripts/make-vae-step-fixture.py
Writes test/fixtures/vae-step.safetensors (~0.3 MB). The 1.7 M initial weights are not stored:
both sides compute them from an integer hash (hash_uniform below, mirrored in
test/vae/reference-step.test.ts), so only the results need storing. Large tensors are stored as
every 61st element ('<name>@61') plus their sum and sum of squares ('<name>@sum', '<name>@sumsq').

Contents: x [8,1,28,28] (first image of digits 0..7 of the mnist package, with a little hashed
noise so that max-pool windows have no exact ties), eps [8,20],
the train-mode forward (logits, mu, logvar), loss/bce/kl, every parameter's gradient
('grad.<key>'), and after one Adam(lr=1e-3) step every state_dict entry ('after.<key>',
running stats and num_batches_tracked included), plus the eval-mode forward of the initial
weights ('eval.logits', 'eval.mu', 'eval.logvar').
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_vae import ConvVAE, load_digits, vae_loss  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

STRIDE = 61
SMALL = 4096
M32 = 0xFFFFFFFF


def hash_uniform(k, n):
    """n values in [0, 1) for tensor number k: a murmur3-style finaliser of (i + 1) * 2654435761 + (k + 1) * 40503."""
    i = np.arange(n, dtype=np.uint64)
    h = ((i + 1) * 2654435761 + (k + 1) * 40503) & M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h.astype(np.float64) / 2.0 ** 32


def init_(model):
    """Parameter k (0, 1, ... in named_parameters order) of every Linear / Conv / ConvTranspose layer:
    U(-b, b) from the hash with b = 1/sqrt(fan_in), fan_in = weight.shape[1] * kH * kW. BatchNorm keeps
    PyTorch's init (weight 1, bias 0) but still counts in k."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))}
    for k, (name, p) in enumerate(model.named_parameters()):
        owner = layers.get(name.rsplit('.', 1)[0])
        if owner is None:
            continue
        w = owner.weight
        b = 1 / np.sqrt(w.shape[1] * int(np.prod(w.shape[2:])))
        with torch.no_grad():
            p.copy_(torch.from_numpy((2 * hash_uniform(k, p.numel()) - 1) * b).reshape(p.shape))


def compact(name, t, out):
    t = t.detach().float().contiguous()
    if t.numel() <= SMALL:
        out[name] = t
        return
    flat = t.flatten()
    out[name + '@%d' % STRIDE] = flat[::STRIDE].clone()
    out[name + '@sum'] = flat.double().sum().float().reshape([])
    out[name + '@sumsq'] = (flat.double() ** 2).sum().float().reshape([])


def main():
    torch.set_num_threads(1)
    model = ConvVAE(20)
    init_(model)
    x_all, labels = load_digits()
    first = [int(np.argmax(labels == d)) for d in range(8)]
    # Real digits have flat backgrounds, so 2x2 max-pool windows hold exact ties after
    # conv + BN + ReLU, and which tied input gets the gradient depends on rounding noise of the
    # conv implementation. A little hashed noise removes the ties without changing the picture.
    noise = hash_uniform(2000, 8 * 784).reshape(8, 1, 28, 28)
    x = torch.from_numpy(0.9 * x_all[first].astype(np.float64) + 0.1 * noise).float()
    eps = torch.from_numpy((2 * hash_uniform(1000, 8 * 20) - 1) * 1.5).float().reshape(8, 20)
    out = {'x': x, 'eps': eps}

    model.eval()
    with torch.no_grad():
        logits, mu, logvar = model(x, use_mean=True)
    out['eval.logits'], out['eval.mu'], out['eval.logvar'] = logits, mu, logvar

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    logits, mu, logvar = model(x, eps=eps)
    per, bce, kl = vae_loss(logits, x, mu, logvar, per_image=True)
    loss = per.mean()
    opt.zero_grad()
    loss.backward()
    out.update({'logits': logits, 'mu': mu, 'logvar': logvar, 'loss': loss.reshape([]), 'bce': bce.mean().reshape([]), 'kl': kl.mean().reshape([])})
    for name, p in model.named_parameters():
        compact('grad.' + name, p.grad, out)
    opt.step()
    for name, t in model.state_dict().items():
        if t.dtype == torch.int64:
            out['after.' + name] = t.clone()
        else:
            compact('after.' + name, t, out)
    out = {k: (v.detach().contiguous() if v.dtype == torch.int64 else v.detach().float().contiguous()) for k, v in out.items()}
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'test', 'fixtures', 'vae-step.safetensors')
    write_safetensors(path, out, metadata={'generator': 'scripts/make-vae-step-fixture.py', 'torch': torch.__version__, 'stride': str(STRIDE), 'small': str(SMALL)})
    print('wrote', path, os.path.getsize(path), 'bytes; loss', loss.item())


if __name__ == '__main__':
    main()
