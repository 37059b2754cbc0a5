/** Elementwise unary math with gradients written in terms of the op's input or output. */
import { defineOp, type OpDef } from '../op';
import type { Tensor } from '../tensor';
import { passthrough, requireFloat, type NoAttrs } from './util';
import { cast } from './cast';
import { greater } from './compare';

function unary(name: string, grad: OpDef<NoAttrs>['grad'], floatOnly = true): OpDef<NoAttrs> {
  return defineOp<NoAttrs>({
    name,
    infer: ([x]) => {
      if (floatOnly) requireFloat(name, x!);
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
    emit: passthrough(name),
    grad,
  });
}

export const Neg = unary('Neg', ({ grads: [g] }) => [g!.neg()], false);
export const Abs = unary('Abs', ({ inputs: [x], grads: [g] }) => [g!.mul(sign(x!))], false);
export const Sign = unary('Sign', undefined, false);
export const Sqrt = unary('Sqrt', ({ outputs: [y], grads: [g] }) => [g!.div(y!.mul(2))]);
export const Exp = unary('Exp', ({ outputs: [y], grads: [g] }) => [g!.mul(y!)]);
export const Log = unary('Log', ({ inputs: [x], grads: [g] }) => [g!.div(x!)]);
export const Tanh = unary('Tanh', ({ outputs: [y], grads: [g] }) => [g!.mul(y!.mul(y!).neg().add(1))]);
export const Sigmoid = unary('Sigmoid', ({ outputs: [y], grads: [g] }) => [g!.mul(y!.mul(y!.neg().add(1)))]);
export const Reciprocal = unary('Reciprocal', ({ outputs: [y], grads: [g] }) => [g!.mul(y!.mul(y!)).neg()]);
export const Relu = unary('Relu', ({ inputs: [x], grads: [g] }) => [g!.mul(cast(greater(x!, x!.graph.scalar(0, x!.dtype)), x!.dtype))]);
// d erf(x)/dx = 2/sqrt(pi) exp(-x^2)
export const Erf = unary('Erf', ({ inputs: [x], grads: [g] }) => [g!.mul(exp(x!.mul(x!).neg()).mul(2 / Math.sqrt(Math.PI)))]);

const un =
  (op: OpDef<NoAttrs>) =>
  (x: Tensor): Tensor =>
    x.graph.apply(op, [x], {})[0]!;
export const neg = un(Neg);
export const abs = un(Abs);
export const sign = un(Sign);
export const sqrt = un(Sqrt);
export const exp = un(Exp);
export const log = un(Log);
export const tanh = un(Tanh);
export const sigmoid = un(Sigmoid);
export const reciprocal = un(Reciprocal);
export const relu = un(Relu);
export const erf = un(Erf);
