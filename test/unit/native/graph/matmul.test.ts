import { describe, expect, it } from 'vitest';
import { checkGradients, randShape } from './harness';
import { Graph, ops } from '../../../../src/native/graph/index';

describe('MatMul / Gemm gradients (float64, FD atol 1e-6 + rtol 1e-5)', () => {
  const cases: [string, (r: { int: (a: number, b: number) => number }) => [(number | string)[], (number | string)[]]][] = [
    [
      '2-D x 2-D',
      (r) => {
        const [m, k, n] = [r.int(2, 4), r.int(2, 4), r.int(2, 4)];
        return [
          [m, k],
          [k, n],
        ];
      },
    ],
    [
      'batched x weight (Gemm path)',
      (r) => {
        const [b, m, k, n] = [r.int(2, 3), r.int(2, 4), r.int(2, 4), r.int(2, 4)];
        return [
          [b, m, k],
          [k, n],
        ];
      },
    ],
    [
      'batched x batched',
      (r) => {
        const [b, m, k, n] = [r.int(2, 3), r.int(2, 4), r.int(2, 4), r.int(2, 4)];
        return [
          [b, m, k],
          [b, k, n],
        ];
      },
    ],
    [
      'broadcast batch dims',
      (r) => {
        const [b, h, m, k, n] = [r.int(2, 3), r.int(2, 3), r.int(2, 3), r.int(2, 3), r.int(2, 3)];
        return [
          [b, 1, m, k],
          [h, k, n],
        ];
      },
    ],
    [
      'weight x batched',
      (r) => {
        const [b, m, k, n] = [r.int(2, 3), r.int(2, 4), r.int(2, 4), r.int(2, 4)];
        return [
          [m, k],
          [b, k, n],
        ];
      },
    ],
    [
      'symbolic batch',
      () => [
        ['batch', 'seq', 4],
        [4, 3],
      ],
    ],
  ];
  for (const [name, shapes] of cases) {
    it(name, async () => {
      const rep = await checkGradients({
        dtype: 'float64',
        symbols: { batch: 2, seq: 3 },
        build: (g, r) => {
          const [sa, sb] = shapes(r);
          const a = g.input('a', 'float64', sa);
          const b = g.input('b', 'float64', sb);
          return { wrt: [a, b], out: a.matmul(b) };
        },
      });
      expect(rep.failures, rep.worst).toEqual([]);
    });
  }
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`Gemm transA=${transA} transB=${transB}`, async () => {
        const rep = await checkGradients({
          dtype: 'float64',
          build: (g, r) => {
            const [m, k, n] = randShape(r, 3);
            const a = g.input('a', 'float64', transA ? [k, m] : [m, k]);
            const b = g.input('b', 'float64', transB ? [n, k] : [k, n]);
            return { wrt: [a, b], out: ops.gemm(a, b, { transA, transB }) };
          },
        });
        expect(rep.failures, rep.worst).toEqual([]);
      });
    }
  }
  it('reports mismatched inner dims with both shapes', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', ['batch', 8, 64]);
    const b = g.input('b', 'float32', [32, 16]);
    expect(() => a.matmul(b)).toThrow('MatMul: inner dims 64 and 32 differ (a: [batch,8,64], b: [32,16])');
  });
});
