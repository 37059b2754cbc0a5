import { describe, expect, it } from 'vitest';
import { checkGradients, int64Tensor } from './harness';
import { ops } from '../../../../src/native/graph/index';

const F64 = 'float64' as const;

describe('indexing gradients (float64, FD atol 1e-6 + rtol 1e-5)', () => {
  it('gather axis 0 = embedding lookup; repeated ids accumulate via ScatterND add', async () => {
    const ids = [1, 3, 1, 0, 3, 3];
    const rep = await checkGradients({
      dtype: F64,
      symbols: { batch: 2, seq: 3 },
      build: (g) => {
        const wte = g.input('wte', F64, [5, 4]);
        const idx = g.input('ids', 'int64', ['batch', 'seq']);
        return { wrt: [wte], out: wte.gather(idx), feeds: { ids: int64Tensor(ids, [2, 3]) } };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('gather axis 1 with 2-D indices and axis 2 with a scalar index', async () => {
    const rep = await checkGradients({
      dtype: F64,
      build: (g) => {
        const x = g.input('x', F64, [2, 5, 3]);
        const i2 = g.constant([4, 0, 4, 2], 'int64', [2, 2]);
        const i0 = g.constant([1], 'int64', []);
        return { wrt: [x], out: x.gather(i2, 1).sum(-1).add(x.gather(i0, 2).sum(-1, true).sum(1, true).squeeze(1).unsqueeze(1)) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('gatherElements (picks label logits) and gatherND', async () => {
    const rep = await checkGradients({
      dtype: F64,
      build: (g) => {
        const x = g.input('x', F64, [3, 4]);
        const lab = g.constant([3, 0, 3], 'int64', [3, 1]);
        const nd = g.constant([2, 1, 0, 0, 2, 1], 'int64', [3, 2]);
        return { wrt: [x], out: x.gatherElements(lab, 1).squeeze(1).add(ops.gatherND(x, nd)) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('scatter-adds: data and updates', async () => {
    const rep = await checkGradients({
      dtype: F64,
      build: (g) => {
        const data = g.input('data', F64, [4, 3]);
        const upd = g.input('upd', F64, [3, 3]);
        const upd2 = g.input('upd2', F64, [4, 2]);
        const a = ops.scatterNDAdd(data, g.constant([2, 0, 2], 'int64', [3, 1]), upd);
        const b = ops.scatterElementsAdd(a, g.constant([0, 2, 1, 1, 2, 2, 0, 0], 'int64', [4, 2]), upd2, 1);
        return { wrt: [data, upd, upd2], out: b.mul(b) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});

describe('select and mask gradients (float64)', () => {
  it('where with broadcasting branches', async () => {
    const rep = await checkGradients({
      dtype: F64,
      build: (g) => {
        const a = g.input('a', F64, [3, 4]);
        const b = g.input('b', F64, [4]);
        return { wrt: [a, b], out: ops.where(a.gt(0), a.mul(b), b) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('trilu and a causal attention mask with -inf fill', async () => {
    const rep = await checkGradients({
      dtype: F64,
      symbols: { seq: 4 },
      build: (g) => {
        const s = g.input('scores', F64, [2, 'seq', 'seq']);
        const t = g.input('t', F64, [3, 3]);
        const masked = ops.where(ops.causalMask(g, 'seq'), s, -1e9).softmax(-1);
        return { wrt: [s, t], out: masked.sum(1).sum().add(t.trilu(false, 1).sum()).add(t.trilu(true, -1).mul(t).sum()).reshape([1]) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('cast float64 -> float32 -> float64 keeps the gradient path (tolerance of the float32 round trip)', async () => {
    const rep = await checkGradients({
      dtype: F64,
      step: 1e-3,
      atol: 1e-4,
      rtol: 1e-4,
      build: (g) => {
        const x = g.input('x', F64, [3, 2]);
        return { wrt: [x], out: x.cast('float32').mul(x.cast('float32')).cast('float64') };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});
