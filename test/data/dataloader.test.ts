import { describe, expect, it, vi } from 'vitest';
import * as vg from '../../src/index.js';

const { DataLoader, TensorDataset, Dataset, collate } = vg.data;

/** A dataset of n items [i * 10 + [0, 1, 2], i] and a count of get() calls. */
class Numbers extends Dataset<[vg.Tensor, number]> {
  calls = 0;
  constructor(readonly n: number) { super(); }
  get length(): number { return this.n; }
  get(i: number): [vg.Tensor, number] {
    this.calls++;
    return [vg.tensor([i * 10, i * 10 + 1, i * 10 + 2]), i];
  }
}

const labelsOf = (loader: Iterable<vg.Tensor[]>): number[][] => [...loader].map(([, y]) => Array.from(y!.dataSync()));

describe('DataLoader', () => {
  it('batches in index order without shuffle, stacking tensors and numbers', () => {
    const loader = new DataLoader(new Numbers(5), { batchSize: 2 });
    const batches = [...loader];
    expect(loader.length).toBe(3);
    expect(batches.map(([x]) => x.shape)).toEqual([[2, 3], [2, 3], [1, 3]]);
    expect(batches[1]![0].toArray()).toEqual([[20, 21, 22], [30, 31, 32]]);
    expect(batches.map(([, y]) => y.dtype)).toEqual(['int32', 'int32', 'int32']);
    expect(batches.map(([, y]) => y.toArray())).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('dropLast drops the short batch; a full last batch is kept', () => {
    expect(labelsOf(new DataLoader(new Numbers(5), { batchSize: 2, dropLast: true }))).toEqual([[0, 1], [2, 3]]);
    expect(new DataLoader(new Numbers(5), { batchSize: 2, dropLast: true }).length).toBe(2);
    expect(labelsOf(new DataLoader(new Numbers(4), { batchSize: 2, dropLast: true }))).toEqual([[0, 1], [2, 3]]);
    expect(labelsOf(new DataLoader(new Numbers(3), { batchSize: 5 }))).toEqual([[0, 1, 2]]);
    expect(labelsOf(new DataLoader(new Numbers(3), { batchSize: 5, dropLast: true }))).toEqual([]);
  });

  it('a dataset of 0 items gives no batches, of 1 item one batch', () => {
    expect([...new DataLoader(new Numbers(0), { batchSize: 4, shuffle: true })]).toEqual([]);
    expect(new DataLoader(new Numbers(0), { batchSize: 4 }).length).toBe(0);
    expect(labelsOf(new DataLoader(new Numbers(1), { batchSize: 4, shuffle: true }))).toEqual([[0]]);
  });

  it('shuffles into a permutation fixed by the generator seed, a new one each epoch', () => {
    const run = (seed: number): number[][] => {
      const loader = new DataLoader(new Numbers(50), { batchSize: 8, shuffle: true, generator: new vg.Generator(seed) });
      return [labelsOf(loader).flat(), labelsOf(loader).flat()];
    };
    const [a1, a2] = run(3);
    expect([...a1!].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a1).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a2).not.toEqual(a1);
    expect(run(3)).toEqual([a1, a2]);
    expect(run(4)[0]).not.toEqual(a1);
    // the order is vg.permutation's with that generator
    expect(a1).toEqual(Array.from(vg.permutation(50, new vg.Generator(3))));
  });

  it('without a generator, shuffling follows manualSeed', () => {
    const order = (): number[] => {
      vg.manualSeed(7);
      return labelsOf(new DataLoader(new Numbers(20), { batchSize: 6, shuffle: true })).flat();
    };
    expect(order()).toEqual(order());
  });

  it('TensorDataset batches through one gather per tensor, never get()', () => {
    const x = vg.arange(0, 24).reshape([8, 3]);
    const y = vg.arange(0, 8, 1, { dtype: 'int32' });
    const ds = new TensorDataset(x, y);
    const get = vi.spyOn(ds, 'get');
    const loader = new DataLoader(ds, { batchSize: 3, shuffle: true, generator: new vg.Generator(1) });
    const perm = Array.from(vg.permutation(8, new vg.Generator(1)));
    const batches = [...loader];
    expect(get).not.toHaveBeenCalled();
    expect(batches.map(([, yb]) => yb!.toArray()).flat()).toEqual(perm);
    expect(batches.map(([xb]) => xb!.toArray()).flat()).toEqual(perm.map((i) => [3 * i, 3 * i + 1, 3 * i + 2]));
    expect(batches[0]![0]!.dtype).toBe('float32');
    expect(batches[0]![1]!.dtype).toBe('int32');
    // the same items as get() and collate()
    const slow = collate(perm.slice(0, 3).map((i) => ds.get(i)));
    expect(slow.map((t) => t.toArray())).toEqual(batches[0]!.map((t) => t.toArray()));
  });

  it('resumes an interrupted epoch at the same batch from its stateDict', () => {
    const make = (): InstanceType<typeof DataLoader<vg.Tensor[]>> =>
      new DataLoader(new TensorDataset(vg.arange(0, 30).reshape([10, 3]), vg.arange(0, 10, 1, { dtype: 'int32' })), { batchSize: 3, shuffle: true, generator: new vg.Generator(11) });
    const full = make();
    const uninterrupted = [labelsOf(full), labelsOf(full), labelsOf(full)].map((e) => e.flat());

    const first = make();
    const seen: number[] = [...labelsOf(first).flat()];
    let state: vg.data.DataLoaderState | undefined;
    for (const [, y] of first) {
      seen.push(...Array.from(y!.dataSync()));
      if (seen.length === 10 + 6) {
        state = first.stateDict();
        break;
      }
    }
    expect(state!.epoch).toBe(1);
    expect(state!.position).toBe(2);
    const second = make(); // a fresh process: a new generator, its state comes from the checkpoint
    second.loadStateDict(state!);
    seen.push(...labelsOf(second).flat());
    seen.push(...labelsOf(second).flat());
    expect(seen).toEqual(uninterrupted.flat());
    expect(second.stateDict().epoch).toBe(3);
  });

  it('a loop that breaks early is followed by a new epoch, as in PyTorch', () => {
    const loader = new DataLoader(new Numbers(6), { batchSize: 2 });
    for (const _ of loader) break;
    expect(loader.stateDict()).toMatchObject({ epoch: 0, position: 1 });
    expect(labelsOf(loader)).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(loader.stateDict()).toMatchObject({ epoch: 2, position: 0, order: null });
  });

  it('a state saved after the last batch continues with the next epoch', () => {
    const a = new DataLoader(new Numbers(4), { batchSize: 2, shuffle: true, generator: new vg.Generator(2) });
    let state: vg.data.DataLoaderState | undefined;
    for (const _ of a) state = a.stateDict();
    const next = labelsOf(a).flat();
    const b = new DataLoader(new Numbers(4), { batchSize: 2, shuffle: true, generator: new vg.Generator(99) });
    b.loadStateDict(state!);
    expect(labelsOf(b).flat()).toEqual(next);
    expect(b.stateDict().epoch).toBe(2);
  });

  it('collates records field by field and float numbers to float32', () => {
    const out = collate([{ a: vg.tensor([1, 2]), b: 0.5 }, { a: vg.tensor([3, 4]), b: 1 }]);
    expect(out.a.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(out.b.dtype).toBe('float32');
    expect(out.b.toArray()).toEqual([0.5, 1]);
  });

  it('rejects bad arguments with errors that name the problem', () => {
    expect(() => new DataLoader(new Numbers(3), { batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => new DataLoader({} as never)).toThrow(/length and a get\(index\)/);
    expect(() => new TensorDataset(vg.zeros([3, 2]), vg.zeros([4]))).toThrow(/tensor 1 has shape \[4\], tensor 0 has \[3, 2\]/);
    expect(() => new TensorDataset(vg.zeros([3]), vg.tensor(1))).toThrow(/tensor 1 is a scalar/);
    expect(() => new TensorDataset(vg.zeros([3])).get(3)).toThrow(/index 3 out of range for a dataset of 3 items/);
    expect(() => collate([[vg.zeros([2]), 1], [vg.zeros([2])]])).toThrow(/item 1 is not a tuple of 2/);
    expect(() => collate([vg.zeros([2]), 3])).toThrow(/item 1 is number, item 0's is a Tensor/);
    expect(() => collate([vg.zeros([2]), vg.zeros([3])])).toThrow(/stack: tensor 1 has shape \[3\]/);
    const loader = new DataLoader(new Numbers(4), { batchSize: 2 });
    expect(() => loader.loadStateDict({ epoch: 0, position: 1, order: vg.tensor(new Int32Array([0, 1, 2])), generator: null })).toThrow(/order has 3 items, the dataset has 4/);
    expect(() => loader.loadStateDict({ epoch: 0, position: 1, order: vg.tensor(new Int32Array([0, 1, 1, 2])), generator: null })).toThrow(/lists item 1 twice/);
    expect(() => loader.loadStateDict({ epoch: 0, position: 5, order: null, generator: null })).toThrow(/position 5 out of range for 2 batches/);
    expect(() => loader.loadStateDict({ epoch: 0, position: 0, order: null, generator: { s: [1, 2, 3, 4], spare: null } })).toThrow(/given no generator/);
  });
});
