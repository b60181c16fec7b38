#!/usr/bin/python3
"""PyTorch baseline for the reference ConvVAE on MNIST (images/s).

Measures, per (OpenBLAS core type, thread count):
  train : one full training epoch over the MNIST training images (all 60,000, or those of --indices),
          shuffled batches of 128 (indexing/batching included), forward + loss + backward + Adam(1e-3),
          after --warmup warm-up steps (or a full warm-up epoch with --warmup-epoch)
  infer : encode + decode (z = mu), eval mode, no_grad, over the same images, batches of
          --infer-batch, after one warm-up pass over 10 batches
Prints one JSON line per measurement plus one "env" line per configuration (torch version,
threads, OPENBLAS_CORETYPE, OpenBLAS's own core name and config, torch.__config__.show()).

Each core type runs in a child process (OpenBLAS reads OPENBLAS_CORETYPE when it loads):
  /usr/bin/python3 bench/torch_bench.py                       # threads 1, core types Haswell,SkylakeX
  /usr/bin/python3 bench/torch_bench.py --threads 1,2 --coretypes inherit,SkylakeX
("inherit" keeps the caller's environment.) Needs Debian's python3-torch and libopenblas0-openmp:
  apt-get install -y python3-torch libopenblas0-openmp   # then run with /usr/bin/python3
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
sys.dont_write_bytecode = True  # keep __pycache__ out of the tree
import time

import numpy as np

try:
    import torch
except ImportError:
    sys.stderr.write('torch_bench: PyTorch is not available to %s.\n'
                     'Install Debian\'s build: apt-get install -y python3-torch libopenblas0-openmp\n'
                     'and run with /usr/bin/python3 (a pyenv python3 earlier on PATH does not see it).\n'
                     % sys.executable)
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'scripts'))
from torch_vae import ConvVAE, vae_loss, split_digits  # noqa: E402


def openblas_info():
    for name in ('libopenblas.so.0', 'libopenblasp-r0.3.21.so'):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return {'corename': lib.openblas_get_corename().decode(), 'config': lib.openblas_get_config().decode()}
        except (OSError, AttributeError):
            continue
    return {'corename': None, 'config': None}


def blas_libs():
    try:
        with open('/proc/self/maps') as f:
            return sorted({l.split()[-1] for l in f if ('blas' in l or 'lapack' in l or 'mkl' in l) and '/' in l})
    except OSError:
        return []


def child(args):
    threads = args.child_threads
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    trx, _, _, _ = split_digits()
    if args.indices:
        with open(args.indices) as f:
            trx = trx[np.asarray(json.load(f), dtype=np.int64)]
    trx = torch.from_numpy(np.ascontiguousarray(trx))
    n = trx.shape[0]
    base = {'torch': torch.__version__, 'threads': torch.get_num_threads(),
            'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE')}
    ob = openblas_info()
    base['openblas_corename'] = ob['corename']
    print(json.dumps(dict(base, kind='env', openblas_config=ob['config'], blas_libs=blas_libs(),
                          mkldnn=torch.backends.mkldnn.is_available(),
                          cpu_capability=torch.backends.cpu.get_cpu_capability()
                          if hasattr(torch.backends, 'cpu') else None,
                          config=torch.__config__.show())), flush=True)

    model = ConvVAE(20)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bs = args.batch

    def train_steps(perm, limit=None):
        steps = 0
        for i in range(0, n, bs):
            if limit is not None and steps >= limit:
                break
            xb = trx[perm[i:i + bs]]
            logits, mu, logvar = model(xb)
            loss = vae_loss(logits, xb, mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        return loss.item()

    model.train()
    if args.warmup_epoch:
        train_steps(torch.randperm(n))
    else:
        train_steps(torch.randperm(n), args.warmup)
    rates = {'train': [], 'infer': []}
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        perm = torch.randperm(n)          # shuffling + batching counted
        last = train_steps(perm)
        dt = time.perf_counter() - t0
        rates['train'].append(n / dt)
        print(json.dumps(dict(base, kind='train', images=n, batch=bs, seconds=round(dt, 3),
                              images_per_s=round(n / dt, 1), rep=rep, last_loss=round(last, 3))), flush=True)

    model.eval()
    ib = args.infer_batch
    with torch.no_grad():
        for i in range(0, min(n, 10 * ib), ib):
            model.decode(model.encode(trx[i:i + ib])[0])
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            for i in range(0, n, ib):
                mu, _ = model.encode(trx[i:i + ib])
                torch.sigmoid(model.decode(mu))
            dt = time.perf_counter() - t0
            rates['infer'].append(n / dt)
            print(json.dumps(dict(base, kind='infer', images=n, batch=ib, seconds=round(dt, 3),
                                  images_per_s=round(n / dt, 1), rep=rep)), flush=True)
    for kind, r in rates.items():
        r = sorted(r)
        print(json.dumps(dict(base, kind=kind + '_summary', repeats=len(r), best_images_per_s=round(r[-1], 1),
                              median_images_per_s=round(r[len(r) // 2], 1))), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', default='1', help='comma list, e.g. 1,2')
    p.add_argument('--coretypes', default='Haswell,SkylakeX',
                   help='comma list of OPENBLAS_CORETYPE values; "inherit" keeps the environment')
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--infer-batch', type=int, default=128)
    p.add_argument('--warmup', type=int, default=10, help='warm-up training steps')
    p.add_argument('--warmup-epoch', action='store_true', help='warm up with a full epoch instead')
    p.add_argument('--repeats', type=int, default=3, help='timed repetitions (the machine may be shared: '
                   'a summary line gives the best and the median)')
    p.add_argument('--indices', default=None, help='JSON file of training-image indices to use (default: all 60,000)')
    p.add_argument('--child-threads', type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_threads:
        return child(args)
    rc = 0
    for ct in args.coretypes.split(','):
        for th in args.threads.split(','):
            env = dict(os.environ)
            if ct != 'inherit':
                env['OPENBLAS_CORETYPE'] = ct
            env['OMP_NUM_THREADS'] = th
            cmd = [sys.executable, os.path.abspath(__file__), '--child-threads', th, '--batch', str(args.batch),
                   '--infer-batch', str(args.infer_batch), '--warmup', str(args.warmup),
                   '--repeats', str(args.repeats)] + (['--warmup-epoch'] if args.warmup_epoch else []) \
                + (['--indices', args.indices] if args.indices else [])
            r = subprocess.run(cmd, env=env)
            rc = rc or r.returncode
    sys.exit(rc)


if __name__ == '__main__':
    main()
