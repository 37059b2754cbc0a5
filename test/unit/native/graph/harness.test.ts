import { describe, expect, it } from 'vitest';
import { checkGradients } from './harness';
import { defineOp, type Tensor } from '../../../../src/native/graph/index';

// An op whose gradient rule is deliberately wrong (d sin = sin instead of cos, approximated with a
// square): the checker must catch it, otherwise a passing suite proves nothing.
const Square = defineOp<Record<string, never>>({
  name: 'SquareWrong',
  infer: ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }],
  emit: (e, a) => e.node('Mul', [a.inputs[0]!, a.inputs[0]!], a.outputs),
  grad: ({ inputs: [x], grads: [g] }) => [g!.mul(x!).mul(3)], // should be 2x
});
const Good = defineOp<Record<string, never>>({ ...Square, name: 'Square', grad: ({ inputs: [x], grads: [g] }) => [g!.mul(x!).mul(2)] });

describe('finite-difference harness', () => {
  it('rejects a wrong gradient rule', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      build: (g) => {
        const x = g.input('x', 'float64', [3, 2]);
        return { wrt: [x], out: g.apply(Square, [x], {})[0] as Tensor };
      },
    });
    expect(rep.failures.length).toBe(6);
  });
  it('accepts the right one', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      build: (g) => {
        const x = g.input('x', 'float64', [3, 2]);
        return { wrt: [x], out: g.apply(Good, [x], {})[0] as Tensor };
      },
    });
    expect(rep.failures).toEqual([]);
    expect(rep.maxAbsErr).toBeLessThan(1e-7);
  });
});
