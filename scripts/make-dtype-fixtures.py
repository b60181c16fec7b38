#!/usr/bin/python3
"""Type-promotion table computed with PyTorch -> test/fixtures/promotion.json.

Run: /usr/bin/python3 scripts/make-dtype-fixtures.py   (Debian python3-torch 1.13; deterministic)

Every pair of operands among: 1-d tensors of bool, int32, float32, float64 ("T:<dtype>"), 0-d
tensors of the same dtypes ("Z:<dtype>"), a Python int ("int") and a Python float ("float"),
through add, mul, eq and where (the condition fixed, the pair as the two branches). At least
one operand of add/mul/eq is a tensor (vaegrad's methods need a tensor on the left); where
takes any pair. PyTorch's int64 is vaegrad's int32 (the test maps it).

File schema:
{ "generator", "torch",
  "operands": { NAME: {"kind": "tensor" | "scalar", "dtype"?: str, "shape"?: [..], "data": [..] | number} },
  "cases": [ {"op": "add" | "mul" | "eq" | "where", "a": NAME, "b": NAME,
              "dtype": torch dtype name of the result (e.g. "float32", "int64", "bool") | null,
              "data": flat row-major result | null, "shape": [..] | null,
              "error": message | null} ] }
where(cond, a, b) uses cond = [True, False] (broadcast against 0-d operands and scalars).
"""
import json
import torch

VALUES = {
    'bool': [True, False],
    'int32': [3, -2],
    'float32': [1.5, -0.25],
    'float64': [0.1, -2.0],
}
DTYPES = {'bool': torch.bool, 'int32': torch.int32, 'float32': torch.float32, 'float64': torch.float64}
SCALARS = {'int': 2, 'float': 0.5}


def operands():
    out = {}
    for name, vals in VALUES.items():
        out[f'T:{name}'] = torch.tensor(vals, dtype=DTYPES[name])
        out[f'Z:{name}'] = torch.tensor(vals[0], dtype=DTYPES[name])
    out.update(SCALARS)
    return out


def describe(v):
    if isinstance(v, torch.Tensor):
        return {'kind': 'tensor', 'dtype': str(v.dtype).replace('torch.', ''), 'shape': list(v.shape),
                'data': [float(x) for x in v.reshape(-1).tolist()]}
    return {'kind': 'scalar', 'data': v}


def main():
    ops = operands()
    cond = torch.tensor([True, False])
    fns = {
        'add': lambda a, b: torch.add(a, b),
        'mul': lambda a, b: torch.mul(a, b),
        'eq': lambda a, b: torch.eq(a, b),
        'where': lambda a, b: torch.where(cond, a, b),
    }
    cases = []
    for op, fn in fns.items():
        for an, a in ops.items():
            for bn, b in ops.items():
                if op != 'where' and not isinstance(a, torch.Tensor):
                    continue
                case = {'op': op, 'a': an, 'b': bn, 'dtype': None, 'data': None, 'shape': None, 'error': None}
                try:
                    r = fn(a, b)
                    case['dtype'] = str(r.dtype).replace('torch.', '')
                    case['shape'] = list(r.shape)
                    case['data'] = [float(x) for x in r.reshape(-1).tolist()]
                except Exception as e:  # noqa: BLE001 - the table records PyTorch's refusals too
                    case['error'] = str(e).split('\n')[0]
                cases.append(case)
    doc = {'generator': 'scripts/make-dtype-fixtures.py', 'torch': torch.__version__,
           'operands': {k: describe(v) for k, v in ops.items()}, 'cases': cases}
    with open('test/fixtures/promotion.json', 'w') as f:
        json.dump(doc, f, indent=1)
    print(f'{len(cases)} cases, {sum(1 for c in cases if c["error"])} refused by torch')


if __name__ == '__main__':
    main()
