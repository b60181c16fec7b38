#!/usr/bin/python3
"""PyTorch baseline for the classifier row of `npm run bench` (bench/classifier.bench.mjs).

The model of examples/classifier.mjs: conv 1->32 5x5 (padding 2), ReLU, max-pool 2, conv 32->64
5x5 (padding 2), ReLU, max-pool 2, flatten, linear 3136->128, ReLU, linear 128->10; cross-entropy,
Adam(1e-3); batches of --batch from torch.utils.data.DataLoader over a TensorDataset (shuffled,
num_workers=0: what a PyTorch user writes). Trains --warmup steps untimed, then times --epochs full
epochs over the MNIST training images of --indices (default: all 60,000), one thread.

Prints JSON lines: one "env" line, one "epoch" line per timed epoch (images/s, and the seconds
spent inside the DataLoader's iterator: its share of the epoch), and a "summary" line (medians).
  /usr/bin/python3 bench/torch_classifier.py --indices idx.json --epochs 1
Needs Debian's python3-torch (apt-get install -y python3-torch; run with /usr/bin/python3).
"""
import argparse
import json
import os
import sys
sys.dont_write_bytecode = True  # keep __pycache__ out of the tree
import time

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:
    sys.stderr.write('torch_classifier: PyTorch is not available to %s (apt-get install -y python3-torch; '
                     'run with /usr/bin/python3).\n' % sys.executable)
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'scripts'))
from torch_vae import load_mnist  # noqa: E402


def classifier():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--indices', default=None, help='JSON file of training-image indices (default: all 60,000)')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--epochs', type=int, default=1, help='timed epochs (the summary gives the median)')
    p.add_argument('--warmup', type=int, default=2, help='untimed warm-up steps')
    p.add_argument('--threads', type=int, default=1)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = load_mnist(True)
    if args.indices:
        with open(args.indices) as f:
            idx = np.asarray(json.load(f), dtype=np.int64)
        x, y = x[idx], y[idx]
    x = torch.from_numpy(np.ascontiguousarray(x))
    y = torch.from_numpy(np.ascontiguousarray(y))
    n = x.shape[0]
    base = {'torch': torch.__version__, 'threads': torch.get_num_threads(),
            'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE')}
    print(json.dumps(dict(base, kind='env')), flush=True)

    model = classifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=args.batch, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for k, (xb, yb) in enumerate(loader):
        if k >= args.warmup:
            break
        step(xb, yb)

    rates, shares = [], []
    for rep in range(args.epochs):
        loader_s = 0.0
        loss_sum = 0.0
        t0 = time.perf_counter()
        it = iter(loader)
        while True:
            t = time.perf_counter()
            batch = next(it, None)
            loader_s += time.perf_counter() - t
            if batch is None:
                break
            xb, yb = batch
            loss_sum += step(xb, yb).item() * xb.shape[0]
        dt = time.perf_counter() - t0
        rates.append(n / dt)
        shares.append(loader_s / dt)
        print(json.dumps(dict(base, kind='epoch', images=n, batch=args.batch, seconds=round(dt, 3),
                              images_per_s=round(n / dt, 1), loader_seconds=round(loader_s, 3),
                              loader_share=round(loader_s / dt, 4), loss=round(loss_sum / n, 4), rep=rep)), flush=True)
    med = lambda v: sorted(v)[(len(v) - 1) // 2]  # noqa: E731
    print(json.dumps(dict(base, kind='summary', epochs=len(rates), median_images_per_s=round(med(rates), 1),
                          median_loader_share=round(med(shares), 4))), flush=True)


if __name__ == '__main__':
    main()
