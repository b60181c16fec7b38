#!/usr/bin/env python3
# Writes test/fixtures/io/torch_small.safetensors (+ .json of expected values) from PyTorch tensors, by hand per the spec.
#
# Debian ships python3-torch but not the `safetensors` package, so the file is laid out exactly as
# safetensors.torch.save_file lays it out (the reference Rust writer): u64 LE header length, compact JSON
# header with __metadata__ first, padded with spaces to a multiple of 8, tensors ordered by descending
# dtype (the Rust Dtype enum order) then by name, data contiguous and little-endian.
# If the real package is importable, the file is also read back with it as a cross-check.
#
# Run: /usr/bin/python3 scripts/make-io-fixtures.py

import json
import os
import struct
import sys

import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "io")

# Rank in the reference implementation's Dtype enum; the writer sorts by it, descending.
DTYPE_RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
TORCH_TO_SAFE = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if sys.byteorder != "little":
        raise SystemExit("this script assumes a little-endian host")
    # bfloat16 has no numpy dtype: go through its raw int16 bits.
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save(tensors: dict, metadata: dict, path: str) -> None:
    items = sorted(tensors.items(), key=lambda kv: (-DTYPE_RANK.index(TORCH_TO_SAFE[kv[1].dtype]), kv[0]))
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": TORCH_TO_SAFE[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def expected(t: torch.Tensor):
    if t.dtype == torch.bool:
        return [int(v) for v in t.flatten().tolist()]
    if t.dtype in (torch.int64, torch.int32, torch.uint8):
        # Strings keep 64-bit integers exact through JSON.
        return [str(v) for v in t.flatten().tolist()]
    return [float(v) for v in t.float().flatten().tolist()] if t.dtype in (torch.float16, torch.bfloat16) else t.flatten().tolist()


def main() -> None:
    torch.manual_seed(0)
    tensors = {
        "encoder.0.weight": torch.randn(2, 1, 3, 3, dtype=torch.float32),
        "encoder.0.bias": torch.tensor([0.5, -0.25], dtype=torch.float32),
        "encoder.1.num_batches_tracked": torch.tensor(937, dtype=torch.int64),
        "f64.values": torch.tensor([1.0 / 3.0, -2.5e-300, 1e300, 0.0], dtype=torch.float64),
        "i32.values": torch.tensor([-2147483648, 0, 2147483647], dtype=torch.int32),
        "i64.big": torch.tensor([2**53 + 1, -(2**62)], dtype=torch.int64),
        "f16.values": torch.tensor([1.0, -0.5, 65504.0, 6e-8], dtype=torch.float16),
        "bf16.values": torch.tensor([1.0, -3.140625], dtype=torch.bfloat16),
        "u8.values": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        # what a classifier checkpoint holds: int64 labels and a bool mask
        "labels": torch.tensor([[3, 0], [9, 2147483647]], dtype=torch.int64),
        "mask": torch.tensor([True, False, True], dtype=torch.bool),
    }
    metadata = {"format": "pt", "note": "vaegrad io fixture"}
    os.makedirs(OUT_DIR, exist_ok=True)
    st_path = os.path.join(OUT_DIR, "torch_small.safetensors")
    save(tensors, metadata, st_path)
    exp = {
        "metadata": metadata,
        "order": [k for k, _ in sorted(tensors.items(), key=lambda kv: (-DTYPE_RANK.index(TORCH_TO_SAFE[kv[1].dtype]), kv[0]))],
        "tensors": {k: {"dtype": TORCH_TO_SAFE[t.dtype], "shape": list(t.shape), "values": expected(t)} for k, t in tensors.items()},
    }
    with open(os.path.join(OUT_DIR, "torch_small.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    try:
        from safetensors.torch import load_file  # type: ignore
    except ImportError:
        print("safetensors package not installed: skipped the cross-check with the reference reader")
    else:
        back = load_file(st_path)
        for k, t in tensors.items():
            assert torch.equal(back[k], t), k
        print("cross-checked with safetensors.torch.load_file")
    print("wrote", st_path)


if __name__ == "__main__":
    main()
