import { describe, expect, it } from 'vitest';
import { checkGradients, randShape, type FloatDType } from './harness';
import { ops, type Tensor } from '../../../../src/native/graph/index';

/** Broadcasting patterns: same shape, row, column, scalar, rank-extending. */
const patterns: [string, (s: number[]) => [number[], number[]]][] = [
  ['same shape', (s) => [s, s]],
  ['b is a row', (s) => [s, [s[2]!]]],
  ['b is a column', (s) => [s, [s[1]!, 1]]],
  ['a broadcasts over batch', (s) => [[1, s[1]!, s[2]!], s]],
  ['b is scalar', (s) => [s, []]],
];

const binary = {
  add: (a, b) => a.add(b),
  sub: (a, b) => a.sub(b),
  mul: (a, b) => a.mul(b),
  div: (a, b) => a.div(b),
  pow: (a, b) => a.pow(b),
  maximum: (a, b) => a.maximum(b),
  minimum: (a, b) => a.minimum(b),
} satisfies Record<string, (a: Tensor, b: Tensor) => Tensor>;

describe('binary elementwise gradients (float64, FD atol 1e-6 + rtol 1e-5)', () => {
  for (const [op, f] of Object.entries(binary)) {
    for (const [pname, pat] of patterns) {
      it(`${op}: ${pname}`, async () => {
        const rep = await checkGradients({
          dtype: 'float64',
          seed: op.length * 31 + pname.length,
          // positive operands keep Pow/Div/Log smooth; Max/Min need no ties (continuous values)
          init: (r) => (op === 'pow' || op === 'div' ? r.uniform(0.5, 2) : r.normal()),
          build: (g, r) => {
            const [sa, sb] = pat(randShape(r, 3));
            const a = g.input('a', 'float64', sa);
            const b = g.input('b', 'float64', sb);
            return { wrt: [a, b], out: f(a, b) };
          },
        });
        expect(rep.failures, rep.worst).toEqual([]);
      });
    }
  }
});

const unary: [string, (x: Tensor) => Tensor, FloatDType, 'any' | 'positive'][] = [
  ['neg', (x) => x.neg(), 'float64', 'any'],
  ['abs', (x) => x.abs(), 'float64', 'any'],
  ['sqrt', (x) => x.sqrt(), 'float64', 'positive'],
  ['exp', (x) => x.exp(), 'float64', 'any'],
  ['log', (x) => x.log(), 'float64', 'positive'],
  ['tanh', (x) => x.tanh(), 'float64', 'any'],
  ['sigmoid', (x) => x.sigmoid(), 'float64', 'any'],
  ['relu', (x) => x.relu(), 'float64', 'any'],
  ['reciprocal', (x) => ops.reciprocal(x), 'float64', 'positive'],
  // ORT has no float64 Erf kernel: checked in float32 (FD step 1e-2, atol/rtol 5e-3)
  ['erf', (x) => x.erf(), 'float32', 'any'],
];

describe('unary gradients', () => {
  for (const [op, f, dtype, domain] of unary) {
    it(`${op} (${dtype})`, async () => {
      const rep = await checkGradients({
        dtype,
        seed: op.length,
        // keep |x| away from the kinks of abs/relu so central differences are valid
        init: (r) => (domain === 'positive' ? r.uniform(0.3, 3) : r.uniform(0.1, 2) * (r.uniform() < 0.5 ? -1 : 1)),
        build: (g, r) => {
          const x = g.input('x', dtype, randShape(r, 2));
          return { wrt: [x], out: f(x) };
        },
      });
      expect(rep.failures, rep.worst).toEqual([]);
      expect(rep.checked).toBeGreaterThan(3);
    });
  }
});
