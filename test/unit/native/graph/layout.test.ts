import { describe, expect, it } from 'vitest';
import { checkGradients, randShape, type Rng } from './harness';
import { Graph, ops, type Tensor } from '../../../../src/native/graph/index';

const F64 = 'float64' as const;

async function expectGrad(build: (g: Graph, r: Rng) => { wrt: Tensor[]; out: Tensor }, symbols?: Record<string, number>) {
  const rep = await checkGradients({ dtype: F64, build, ...(symbols ? { symbols } : {}) });
  expect(rep.failures, rep.worst).toEqual([]);
  expect(rep.checked).toBeGreaterThan(0);
}

describe('layout op gradients (float64, FD atol 1e-6 + rtol 1e-5)', () => {
  it('reshape with -1', () =>
    expectGrad((g, r) => {
      const x = g.input('x', F64, randShape(r, 3));
      return { wrt: [x], out: x.reshape([-1, x.shape[2]!]).mul(x.reshape([-1, x.shape[2]!])) };
    }));
  it('reshape merging and splitting symbolic dims', () =>
    expectGrad(
      (g) => {
        const x = g.input('x', F64, ['batch', 'seq', 6]);
        const flat = x.reshape(['batch*seq', 6]);
        const heads = x.reshape(['batch', 'seq', 2, 3]).transpose([0, 2, 1, 3]);
        expect(flat.shape).toEqual(['batch*seq', 6]);
        return {
          wrt: [x],
          out: heads
            .mul(heads)
            .reshape(['batch', 2, 'seq*3'])
            .sum(1)
            .add(flat.sum().reshape([1, 1])),
        };
      },
      { batch: 2, seq: 3 },
    ));
  it('transpose', () =>
    expectGrad((g, r) => {
      const x = g.input('x', F64, randShape(r, 4));
      return { wrt: [x], out: x.transpose([2, 0, 3, 1]).mul(x.transpose([2, 0, 3, 1])) };
    }));
  it('slice with negative and clamped bounds', () =>
    expectGrad((g) => {
      const x = g.input('x', F64, [5, 6]);
      return { wrt: [x], out: ops.slice(x, [0, 1], [1, -4], [100, -1]) };
    }));
  it('slice with a symbolic end (position embeddings [:seq]) and seq-1 shifts', () =>
    expectGrad(
      (g) => {
        const wpe = g.input('wpe', F64, [8, 3]);
        const x = g.input('x', F64, ['batch', 'seq', 3]);
        const pos = wpe.slice(0, 0, 'seq');
        const shifted = x.slice(1, 0, -1).mul(x.slice(1, 1));
        expect(shifted.shape).toEqual(['batch', 'seq-1', 3]);
        return { wrt: [wpe, x], out: x.add(pos).sum(1).add(shifted.sum(1)) };
      },
      { batch: 2, seq: 5 },
    ));
  it('concat (incl. a symbolic piece) and split (one output unused)', () =>
    expectGrad(
      (g) => {
        const ctx = g.input('ctx', F64, [2, 3, 4]);
        const tok = g.input('tok', F64, [2, 'seq', 4]);
        const cat = ops.concat([ctx, tok], 1);
        expect(cat.shape).toEqual([2, 'seq+3', 4]);
        const [a, , c] = ops.split(g.input('y', F64, [2, 7]), 1, [2, 1, 4]);
        return {
          wrt: [ctx, tok],
          out: cat
            .mul(cat)
            .sum(1)
            .add(a!.sum().add(c!.sum()).reshape([1, 1])),
        };
      },
      { seq: 2 },
    ));
  it('split into equal parts feeds both gradients', () =>
    expectGrad((g) => {
      const x = g.input('x', F64, [3, 6]);
      const [q, k] = x.split(1, 2);
      return { wrt: [x], out: q!.mul(k!.exp()) };
    }));
  it('expand / unsqueeze / squeeze', () =>
    expectGrad((g) => {
      const x = g.input('x', F64, [3, 1]);
      const y = g.input('y', F64, [1, 4, 1]);
      return { wrt: [x, y], out: x.expand([2, 3, 4]).mul(y.squeeze(2).unsqueeze(0).expand([2, 3, 4])) };
    }));
  it('expand to a symbolic shape', () =>
    expectGrad(
      (g) => {
        const c = g.input('cls', F64, [1, 1, 4]);
        const x = g.input('x', F64, ['batch', 2, 4]);
        return { wrt: [c], out: ops.concat([c.expand(['batch', 1, 4]), x], 1) };
      },
      { batch: 3 },
    ));
});

describe('build-time errors', () => {
  it('names the shapes involved', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 768]);
    expect(() => x.reshape(['batch', 12, 64])).toThrow(/Reshape: \[batch,seq,768\] \(768\*batch\*seq elements\) cannot become/);
    expect(() => x.add(g.input('y', 'float32', ['batch', 'tok', 768]))).toThrow('Add: cannot broadcast dims seq and tok');
    expect(() => ops.concat([x, g.input('z', 'float32', [1, 2])], 1)).toThrow(/Concat: shapes differ/);
    expect(() => g.input('x', 'float32', [1])).toThrow("duplicate tensor name 'x'");
    expect(() => g.param('w', [2, 'n' as unknown as number])).toThrow(/shape must be static/);
  });
});
