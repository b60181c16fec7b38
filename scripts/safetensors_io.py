"""Minimal safetensors reader/writer (no dependency on the `safetensors` package).

Format: 8-byte little-endian u64 header length N, then N bytes of UTF-8 JSON
  { name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
    "__metadata__": {str: str} (optional) }
padded with spaces so that 8 + N is a multiple of 8, then the raw little-endian
tensor bytes (offsets are relative to the start of the data section).

    write_safetensors(path, {name: numpy array or torch tensor}, metadata=None)
    tensors, metadata = read_safetensors(path)   # {name: numpy array}, {str: str}
"""
import json
import struct

import numpy as np

_DTYPES = {
    'F64': np.dtype('<f8'), 'F32': np.dtype('<f4'), 'F16': np.dtype('<f2'),
    'I64': np.dtype('<i8'), 'I32': np.dtype('<i4'), 'I16': np.dtype('<i2'), 'I8': np.dtype('i1'),
    'U64': np.dtype('<u8'), 'U32': np.dtype('<u4'), 'U16': np.dtype('<u2'), 'U8': np.dtype('u1'),
    'BOOL': np.dtype('?'),
}


def _st_dtype(arr):
    dt = arr.dtype.newbyteorder('<') if arr.dtype.byteorder == '>' else arr.dtype
    for name, d in _DTYPES.items():
        if d.kind == dt.kind and d.itemsize == dt.itemsize:
            return name
    raise TypeError('unsupported dtype %s' % arr.dtype)


def _to_numpy(t):
    if hasattr(t, 'detach'):  # torch tensor
        t = t.detach().cpu().contiguous().numpy()
    a = np.asarray(t)
    # (np.ascontiguousarray would turn a 0-d array into shape [1])
    return a if a.flags['C_CONTIGUOUS'] else a.copy(order='C')


def write_safetensors(path, tensors, metadata=None):
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = _to_numpy(tensors[name])
        dt = _st_dtype(arr)
        data = arr.astype(_DTYPES[dt], copy=False).tobytes(order='C')
        header[name] = {'dtype': dt, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * ((8 - (8 + len(hb)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n].decode('utf-8'))
    base = 8 + n
    metadata = header.pop('__metadata__', {}) or {}
    out = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        dt = _DTYPES[info['dtype']]
        out[name] = np.frombuffer(buf[base + b:base + e], dtype=dt).reshape(info['shape']).copy()
    return out, metadata


def read_safetensors_torch(path):
    import torch
    t, meta = read_safetensors(path)
    return {k: torch.from_numpy(v) for k, v in t.items()}, meta
