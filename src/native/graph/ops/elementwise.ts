/** Broadcasting binary arithmetic: Add Sub Mul Div Pow Max Min. */
import { defineOp, type TensorType } from '../op';
import { broadcastShapes } from '../shape';
import type { Tensor } from '../tensor';
import { lift, passthrough, sameDtype, type NoAttrs } from './util';
import { sumTo } from './reduce';
import { greaterOrEqual, lessOrEqual, where } from './compare';
import { log } from './unary';

function inferBinary(name: string) {
  return (ins: readonly TensorType[]): TensorType[] => {
    const dtype = sameDtype(name, ins);
    return [
      {
        dtype,
        shape: broadcastShapes(
          name,
          ins.map((t) => t.shape),
        ),
      },
    ];
  };
}

export const Add = defineOp<NoAttrs>({
  name: 'Add',
  infer: inferBinary('Add'),
  emit: passthrough('Add'),
  grad: ({ inputs: [a, b], grads: [g], needs }) => [needs[0] ? sumTo(g!, a!.shape) : null, needs[1] ? sumTo(g!, b!.shape) : null],
});

export const Sub = defineOp<NoAttrs>({
  name: 'Sub',
  infer: inferBinary('Sub'),
  emit: passthrough('Sub'),
  grad: ({ inputs: [a, b], grads: [g], needs }) => [needs[0] ? sumTo(g!, a!.shape) : null, needs[1] ? sumTo(g!.neg(), b!.shape) : null],
});

export const Mul = defineOp<NoAttrs>({
  name: 'Mul',
  infer: inferBinary('Mul'),
  emit: passthrough('Mul'),
  grad: ({ inputs: [a, b], grads: [g], needs }) => [
    needs[0] ? sumTo(g!.mul(b!), a!.shape) : null,
    needs[1] ? sumTo(g!.mul(a!), b!.shape) : null,
  ],
});

export const Div = defineOp<NoAttrs>({
  name: 'Div',
  infer: inferBinary('Div'),
  emit: passthrough('Div'),
  grad: ({ inputs: [a, b], outputs: [y], grads: [g], needs }) => {
    const ga = needs[0] || needs[1] ? g!.div(b!) : null;
    return [needs[0] ? sumTo(ga!, a!.shape) : null, needs[1] ? sumTo(ga!.mul(y!).neg(), b!.shape) : null];
  },
});

export const Pow = defineOp<NoAttrs>({
  name: 'Pow',
  infer: inferBinary('Pow'),
  emit: passthrough('Pow'),
  grad: ({ inputs: [a, b], outputs: [y], grads: [g], needs }) => [
    // d/da a^b = b a^(b-1); d/db a^b = a^b ln a (defined for a > 0)
    needs[0] ? sumTo(g!.mul(b!).mul(pow(a!, b!.sub(1))), a!.shape) : null,
    needs[1] ? sumTo(g!.mul(y!).mul(log(a!)), b!.shape) : null,
  ],
});

/** Max/Min route the gradient to the selected operand; on ties it goes to `a`. */
function selectGrad(pick: (a: Tensor, b: Tensor) => Tensor) {
  return ({
    inputs: [a, b],
    grads: [g],
    needs,
  }: {
    inputs: readonly Tensor[];
    grads: readonly (Tensor | null)[];
    needs: readonly boolean[];
  }) => {
    const takeA = pick(a!, b!);
    const zero = g!.graph.scalar(0, g!.dtype);
    return [needs[0] ? sumTo(where(takeA, g!, zero), a!.shape) : null, needs[1] ? sumTo(where(takeA, zero, g!), b!.shape) : null];
  };
}

export const Max = defineOp<NoAttrs>({
  name: 'Max',
  infer: inferBinary('Max'),
  emit: passthrough('Max'),
  grad: selectGrad(greaterOrEqual),
});

export const Min = defineOp<NoAttrs>({
  name: 'Min',
  infer: inferBinary('Min'),
  emit: passthrough('Min'),
  grad: selectGrad(lessOrEqual),
});

const bin =
  (op: typeof Add) =>
  (a: Tensor, b: Tensor | number): Tensor =>
    a.graph.apply(op, [a, lift(a, b)], {})[0]!;
export const add = bin(Add);
export const sub = bin(Sub);
export const mul = bin(Mul);
export const div = bin(Div);
export const pow = bin(Pow);
export const maximum = bin(Max);
export const minimum = bin(Min);
