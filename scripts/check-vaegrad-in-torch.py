#!/usr/bin/python3
"""The reverse direction of the PyTorch round trip: a ConvVAE state_dict written by vaegrad loads
into PyTorch's module (strict) and gives vaegrad's outputs. Used by test/vae/torch-reverse.test.ts.

Usage: /usr/bin/python3 scripts/check-vaegrad-in-torch.py MODEL.safetensors CASE.safetensors
CASE holds x [N,1,28,28], eps [N,latent] and vaegrad's outputs: eval.logits/mu/logvar (eval
mode, z = mu) and train.logits/mu/logvar (train mode, the given eps). Prints one JSON line with
the largest absolute difference of each output, and the running statistics after the train
forward ('after.<key>' entries of CASE, if present).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors_torch  # noqa: E402
from torch_vae import ConvVAE  # noqa: E402


def main(model_path, case_path):
    torch.set_num_threads(1)
    sd, meta = read_safetensors_torch(model_path)
    case, _ = read_safetensors_torch(case_path)
    latent = sd['fc_mu.weight'].shape[0]
    model = ConvVAE(latent)
    model.load_state_dict(sd, strict=True)
    out = {'latent': latent}
    model.eval()
    with torch.no_grad():
        logits, mu, logvar = model(case['x'], use_mean=True)
        for name, t in (('logits', logits), ('mu', mu), ('logvar', logvar)):
            out['eval.' + name] = (t - case['eval.' + name]).abs().max().item()
        model.train()
        logits, mu, logvar = model(case['x'], eps=case['eps'])
        for name, t in (('logits', logits), ('mu', mu), ('logvar', logvar)):
            out['train.' + name] = (t - case['train.' + name]).abs().max().item()
    for k, v in model.state_dict().items():
        if 'after.' + k in case:
            out['after.' + k] = (v.double() - case['after.' + k].double()).abs().max().item()
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
