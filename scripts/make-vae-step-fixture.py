#!/usr/bin/python3
"""One full training step of the reference ConvVAE in PyTorch, as a compact fixture.

Run with Debian's torch: /usr/bin/python3 scripts/make-vae-step-fixture.py
Writes test/fixtures/vae-step.safetensors (~0.3 MB). The 1.7 M initial weights are not stored:
both sides compute them from an integer hash (hash_uniform below, mirrored in
test/vae/reference-step.test.ts), so only the results need storing. Large tensors are stored as
every 61st element ('<name>@61') plus their sum and sum of squares ('<name>@sum', '<name>@sumsq').

Contents: x [8,1,28,28] (first image of digits 0..7 of the mnist package, with a little hashed
noise so that max-pool windows have no exact ties and no ReLU input or max-pool choice sits within
rounding distance of its kink: see well_conditioned), eps [8,20],
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


def kink_margin(model, x, eps):
    """The smallest distance, relative to its tensor's largest magnitude, of any ReLU input from 0
    and of any positive 2x2 max-pool winner from its runner-up, in the train-mode forward."""
    margins = []

    def relu_hook(_m, inp, _out):
        t = inp[0].detach().double()
        margins.append((t.abs().min() / t.abs().max()).item())

    def pool_hook(_m, inp, _out):
        t = inp[0].detach().double()
        n, c, h, w = t.shape
        win = t.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(-1, 4)
        top2 = win.topk(2, dim=1).values
        live = top2[:, 0] > 0  # an all-zero window (after the ReLU) passes no gradient: its tie is harmless
        margins.append(((top2[live, 0] - top2[live, 1]).min() / t.abs().max()).item())

    handles = [m.register_forward_hook(relu_hook if isinstance(m, torch.nn.ReLU) else pool_hook)
               for m in model.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.MaxPool2d))]
    model.train()
    model(x, eps=eps)
    for h in handles:
        h.remove()
    return min(margins)


def well_conditioned(model, images):
    """Gradients jump where a ReLU input crosses 0 or a max-pool winner changes, so two float32
    implementations whose forwards differ by rounding (another summation order, Winograd
    convolutions) route a gradient differently at an input that sits within rounding distance of
    such a kink, and every gradient upstream then differs by about 1%. Real digits have flat
    backgrounds (exact max-pool ties), so a little hashed noise is added, and of the noise seeds
    2000..2199 the one whose forward keeps its closest kink farthest away is used (the batch has
    ~400k kinks, so the best margin is about 1e-6 of the tensors' scale; seed 2000 had 1e-7)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    eps = torch.from_numpy((2 * hash_uniform(1000, 8 * 20) - 1) * 1.5).float().reshape(8, 20)
    best = None
    for seed in range(2000, 2200):
        noise = hash_uniform(seed, 8 * 784).reshape(8, 1, 28, 28)
        x = torch.from_numpy(0.9 * images + 0.1 * noise).float()
        margin = kink_margin(model, x, eps)
        model.load_state_dict(state)  # undo the probe's running-statistics update
        if best is None or margin > best[0]:
            best = (margin, seed, x)
    print('noise seed', best[1], 'kink margin %.2e' % best[0])
    return best[2], eps


def main():
    torch.set_num_threads(1)
    model = ConvVAE(20)
    init_(model)
    x_all, labels = load_digits()
    first = [int(np.argmax(labels == d)) for d in range(8)]
    x, eps = well_conditioned(model, x_all[first].astype(np.float64))
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
