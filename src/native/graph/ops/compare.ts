/** Comparisons, boolean logic and Where. Comparisons have no gradient: their outputs are piecewise constant. */
import { defineOp, type TensorType } from '../op';
import { broadcastShapes, ShapeError } from '../shape';
import type { Tensor } from '../tensor';
import { lift, passthrough, sameDtype, describe, type NoAttrs } from './util';
import { sumTo } from './reduce';

function comparison(name: string) {
  return defineOp<NoAttrs>({
    name,
    infer: (ins) => {
      sameDtype(name, ins);
      return [
        {
          dtype: 'bool',
          shape: broadcastShapes(
            name,
            ins.map((t) => t.shape),
          ),
        },
      ];
    },
    emit: passthrough(name),
  });
}

function logical(name: string, arity: number) {
  return defineOp<NoAttrs>({
    name,
    infer: (ins: readonly TensorType[]) => {
      if (ins.some((t) => t.dtype !== 'bool')) throw new ShapeError(`${name}: needs bool inputs (${describe(ins)})`);
      return [
        {
          dtype: 'bool',
          shape:
            arity === 1
              ? [...ins[0]!.shape]
              : broadcastShapes(
                  name,
                  ins.map((t) => t.shape),
                ),
        },
      ];
    },
    emit: passthrough(name),
  });
}

export const Equal = comparison('Equal');
export const Greater = comparison('Greater');
export const Less = comparison('Less');
export const GreaterOrEqual = comparison('GreaterOrEqual');
export const LessOrEqual = comparison('LessOrEqual');
export const Not = logical('Not', 1);
export const And = logical('And', 2);
export const Or = logical('Or', 2);

const cmp =
  (op: typeof Equal) =>
  (a: Tensor, b: Tensor | number): Tensor =>
    a.graph.apply(op, [a, lift(a, b)], {})[0]!;
export const equal = cmp(Equal);
export const greater = cmp(Greater);
export const less = cmp(Less);
export const greaterOrEqual = cmp(GreaterOrEqual);
export const lessOrEqual = cmp(LessOrEqual);
export const not = (a: Tensor): Tensor => a.graph.apply(Not, [a], {})[0]!;
export const and = (a: Tensor, b: Tensor): Tensor => a.graph.apply(And, [a, b], {})[0]!;
export const or = (a: Tensor, b: Tensor): Tensor => a.graph.apply(Or, [a, b], {})[0]!;

export const Where = defineOp<NoAttrs>({
  name: 'Where',
  infer: ([c, a, b]) => {
    if (c!.dtype !== 'bool') throw new ShapeError(`Where: condition must be bool, got ${c!.dtype}`);
    const dtype = sameDtype('Where', [a!, b!]);
    return [{ dtype, shape: broadcastShapes('Where', [c!.shape, a!.shape, b!.shape], ['cond', 'a', 'b']) }];
  },
  emit: passthrough('Where'),
  grad: ({ inputs: [c, a, b], grads: [g], needs }) => {
    const zero = g!.graph.scalar(0, g!.dtype);
    return [null, needs[1] ? sumTo(where(c!, g!, zero), a!.shape) : null, needs[2] ? sumTo(where(c!, zero, g!), b!.shape) : null];
  },
});

export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : null;
  if (!like) throw new ShapeError('where: at least one branch must be a tensor');
  return cond.graph.apply(Where, [cond, lift(like, a), lift(like, b)], {})[0]!;
}
