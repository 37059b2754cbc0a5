import { describe, expect, it } from 'vitest';
import { checkGradients, randShape } from './harness';

const F64 = 'float64' as const;

describe('reductions (float64, FD atol 1e-6 + rtol 1e-5)', () => {
  for (const op of ['sum', 'mean', 'amax'] as const) {
    for (const [axes, keep] of [
      [undefined, false],
      [1, false],
      [[0, 2], true],
      [-1, true],
    ] as const) {
      it(`${op} axes=${JSON.stringify(axes)} keepdims=${keep}`, async () => {
        const rep = await checkGradients({
          dtype: F64,
          build: (g, r) => {
            const x = g.input('x', F64, randShape(r, 3));
            return { wrt: [x], out: x[op](axes as number | number[] | undefined, keep) };
          },
        });
        expect(rep.failures, rep.worst).toEqual([]);
      });
    }
  }
  it('mean over a symbolic axis divides by its run-time size', async () => {
    const rep = await checkGradients({
      dtype: F64,
      symbols: { batch: 3, seq: 5 },
      build: (g) => {
        const x = g.input('x', F64, ['batch', 'seq', 2]);
        return { wrt: [x], out: x.mean([0, 1]) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});

describe('softmax family (float64)', () => {
  for (const axis of [-1, 1, 0]) {
    it(`softmax axis ${axis}`, async () => {
      const rep = await checkGradients({
        dtype: F64,
        build: (g, r) => {
          const x = g.input('x', F64, randShape(r, 3));
          return { wrt: [x], out: x.softmax(axis) };
        },
      });
      expect(rep.failures, rep.worst).toEqual([]);
    });
    it(`logSoftmax axis ${axis}`, async () => {
      const rep = await checkGradients({
        dtype: F64,
        build: (g, r) => {
          const x = g.input('x', F64, randShape(r, 3));
          return { wrt: [x], out: x.logSoftmax(axis) };
        },
      });
      expect(rep.failures, rep.worst).toEqual([]);
    });
  }
});

describe('LayerNormalization', () => {
  it('float64 (statistics recomputed in float64): x, scale, bias', async () => {
    const rep = await checkGradients({
      dtype: F64,
      build: (g, r) => {
        const s = randShape(r, 3, 2, 5);
        const x = g.input('x', F64, s);
        const w = g.input('w', F64, [s[2]!]);
        const b = g.input('b', F64, [s[2]!]);
        return { wrt: [x, w, b], out: x.layerNorm(w, b, 1e-5) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('float64 over the last two axes', async () => {
    const rep = await checkGradients({
      dtype: F64,
      build: (g, r) => {
        const s = randShape(r, 3, 2, 4);
        const x = g.input('x', F64, s);
        const w = g.input('w', F64, s.slice(1));
        const b = g.input('b', F64, s.slice(1));
        return { wrt: [x, w, b], out: x.layerNorm(w, b) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('float32 (reuses the kernel-saved Mean/InvStdDev outputs); FD step 1e-2, tol 5e-3', async () => {
    const rep = await checkGradients({
      dtype: 'float32',
      symbols: { batch: 2 },
      build: (g) => {
        const x = g.input('x', 'float32', ['batch', 3, 6]);
        const w = g.input('w', 'float32', [6]);
        const b = g.input('b', 'float32', [6]);
        return { wrt: [x, w, b], out: x.layerNorm(w, b) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});

describe('L2 normalise and GELU', () => {
  it('l2normalize (float64)', async () => {
    const rep = await checkGradients({
      dtype: F64,
      build: (g, r) => {
        const x = g.input('x', F64, randShape(r, 2));
        return { wrt: [x], out: x.l2normalize(-1) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('gelu tanh (float64)', async () => {
    const rep = await checkGradients({
      dtype: F64,
      init: (r) => r.uniform(-3, 3),
      build: (g, r) => {
        const x = g.input('x', F64, randShape(r, 2));
        return { wrt: [x], out: x.gelu('tanh') };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('gelu exact erf (float32: ORT has no float64 Erf; FD step 1e-2, tol 5e-3)', async () => {
    const rep = await checkGradients({
      dtype: 'float32',
      init: (r) => r.uniform(-3, 3),
      build: (g, r) => {
        const x = g.input('x', 'float32', randShape(r, 2, 3, 5));
        return { wrt: [x], out: x.gelu('none') };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});
