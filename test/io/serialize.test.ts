// saveBytes/loadBytes: nested objects of tensors and JSON values through one safetensors file.

import { describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';

const bits = (t: vg.Tensor): number[] => Array.from(new Uint8Array(t.contiguous().dataSync().buffer));

describe('saveBytes / loadBytes', () => {
  it('round-trips nested objects, arrays, Maps and every JSON value exactly', () => {
    const w = vg.randn([3, 4], { dtype: 'float64' });
    const obj = {
      model: new Map([['fc.weight', vg.randn([2, 3])], ['fc.bias', vg.tensor([0.1, -0.2])], ['bn.num_batches_tracked', vg.tensor(new Int32Array([7]), { shape: [] })]]),
      optim: { state: new Map([[0, { step: 3, exp_avg: w }], [2, { step: 3, exp_avg: vg.zeros([0]) }]]), paramGroups: [{ options: { lr: 1e-3, betas: [0.9, 0.999] }, params: [0, 1, 2] }] },
      epoch: 4,
      numbers: [0.1 + 0.2, -0, NaN, Infinity, -Infinity, 2 ** 53 + 2, 5e-324],
      text: 'ünïcode "quoted"', flag: true, nothing: null,
      dollars: { $tensor: 'not a reference', $map: 1 },
      empty: {}, list: [],
    };
    const back = vg.loadBytes(vg.saveBytes(obj));
    expect(back.model).toBeInstanceOf(Map);
    expect([...back.model.keys()]).toEqual(['fc.weight', 'fc.bias', 'bn.num_batches_tracked']);
    for (const [k, t] of obj.model) {
      expect(back.model.get(k).dtype, k).toBe(t.dtype);
      expect(back.model.get(k).shape, k).toEqual(t.shape);
      expect(bits(back.model.get(k)), k).toEqual(bits(t));
    }
    expect([...back.optim.state.keys()]).toEqual([0, 2]);
    expect(back.optim.state.get(0).step).toBe(3);
    expect(bits(back.optim.state.get(0).exp_avg)).toEqual(bits(w));
    expect(back.optim.state.get(2).exp_avg.shape).toEqual([0]);
    expect(back.optim.paramGroups).toEqual(obj.optim.paramGroups);
    expect(back.numbers).toEqual(obj.numbers);
    expect(Object.is(back.numbers[1], -0)).toBe(true);
    const { model: _m, optim: _o, numbers: _n, ...rest } = obj;
    const { model: _bm, optim: _bo, numbers: _bn, ...backRest } = back;
    expect(backRest).toEqual(rest);
  });

  it('names tensors by their path, so other safetensors readers see a state dict', () => {
    const bytes = vg.saveBytes({ model: new Map([['conv.weight', vg.ones([1, 1, 2, 2])]]), history: [vg.zeros([2]), { best: vg.ones([1]) }] });
    const { tensors, metadata } = parseSafetensors(bytes);
    expect([...tensors.keys()].sort()).toEqual(['history.0', 'history.1.best', 'model.conv.weight']);
    expect(metadata.format).toBe('vaegrad-save/1');
  });

  it('stores a tensor reached twice once, and loads it as one tensor', () => {
    const t = vg.arange(0, 4);
    const back = vg.loadBytes(vg.saveBytes({ a: t, b: [t] }));
    expect(parseSafetensors(vg.saveBytes({ a: t, b: [t] })).tensors.size).toBe(1);
    expect(back.a).toBe(back.b[0]);
    // distinct tensors whose paths collide get distinct names
    const clash = vg.loadBytes(vg.saveBytes({ 'a.b': vg.ones([1]), a: { b: vg.zeros([1]) } }));
    expect(clash['a.b'].toArray()).toEqual([1]);
    expect(clash.a.b.toArray()).toEqual([0]);
  });

  it('loads a plain safetensors file (no saved structure) as its state dict', () => {
    const sd = new Map([['w', vg.tensor([1, 2])]]);
    const back = vg.loadBytes(vg.stateDictToSafetensors(sd));
    expect(back).toBeInstanceOf(Map);
    expect(back.get('w').toArray()).toEqual([1, 2]);
  });

  it('says what cannot be saved, and where', () => {
    expect(() => vg.saveBytes({ model: new vg.nn.Linear(2, 2) } as never)).toThrow(/saveBytes: model is a Linear; only tensors, .* \(call stateDict\(\) on modules/);
    expect(() => vg.saveBytes({ a: [1, undefined] } as never)).toThrow(/a\.1 is undefined/);
    expect(() => vg.saveBytes({ f: () => 1 } as never)).toThrow(/f is function/);
    expect(() => vg.saveBytes(new Map([[{}, 1]]) as never)).toThrow(/a Map with a object key/);
    expect(() => vg.saveBytes({ g: new vg.Generator(1) } as never)).toThrow(/g is a Generator/);
    // undefined properties are left out, as JSON.stringify does
    expect(vg.loadBytes(vg.saveBytes({ a: 1, b: undefined }))).toEqual({ a: 1 });
  });

  it('rejects a corrupt structure with the file name', () => {
    const entries = new Map([['x', { dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) }]]);
    const file = (structure: string): Uint8Array => serializeSafetensors(entries, { format: 'vaegrad-save/1', structure });
    expect(() => vg.loadBytes(file('{'), 'ck.safetensors')).toThrow(/ck\.safetensors: corrupt structure in __metadata__ \(not JSON\)/);
    expect(() => vg.loadBytes(file('{"$tensor":"y"}'), 'ck.safetensors')).toThrow(/refers to tensor 'y', which the file does not hold/);
    expect(() => vg.loadBytes(file('{"a":1}'), 'ck.safetensors')).toThrow(/tensors x are in the file but not in the structure/);
    expect(() => vg.loadBytes(file('{"$map":3}'), 'ck.safetensors')).toThrow(/\$map is not a list of \[key, value\] pairs/);
  });
});
