/**
 * Symbolic tensor: one output of one graph node, with a dtype and a (possibly symbolic) shape known at
 * build time. The methods exist so model code reads top to bottom: `x.matmul(w).add(b).gelu('tanh')`.
 * Every method is a thin call into the op modules, which also export the same functions.
 */
import type { DType } from './dtype';
import { fmtShape, type Dim, type Shape } from './shape';
import type { Graph, Node } from './graph';
import * as ew from './ops/elementwise';
import * as un from './ops/unary';
import * as cmp from './ops/compare';
import * as red from './ops/reduce';
import * as lay from './ops/layout';
import * as idx from './ops/indexing';
import * as act from './ops/activation';
import * as nrm from './ops/norm';
import { matmul } from './ops/matmul';
import { softmax, logSoftmax } from './ops/softmax';
import { cast } from './ops/cast';
import { trilu } from './ops/mask';

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly node: Node,
    readonly index: number,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    const label = this.node.leaf?.name ?? `${this.node.op?.name ?? 'leaf'}#${this.node.id}`;
    return `${label}: ${this.dtype}${fmtShape(this.shape)}`;
  }

  // arithmetic (numbers become scalars of this tensor's dtype)
  add(b: Tensor | number): Tensor {
    return ew.add(this, b);
  }
  sub(b: Tensor | number): Tensor {
    return ew.sub(this, b);
  }
  mul(b: Tensor | number): Tensor {
    return ew.mul(this, b);
  }
  div(b: Tensor | number): Tensor {
    return ew.div(this, b);
  }
  pow(b: Tensor | number): Tensor {
    return ew.pow(this, b);
  }
  maximum(b: Tensor | number): Tensor {
    return ew.maximum(this, b);
  }
  minimum(b: Tensor | number): Tensor {
    return ew.minimum(this, b);
  }
  neg(): Tensor {
    return un.neg(this);
  }
  abs(): Tensor {
    return un.abs(this);
  }
  sqrt(): Tensor {
    return un.sqrt(this);
  }
  exp(): Tensor {
    return un.exp(this);
  }
  log(): Tensor {
    return un.log(this);
  }
  tanh(): Tensor {
    return un.tanh(this);
  }
  erf(): Tensor {
    return un.erf(this);
  }
  sigmoid(): Tensor {
    return un.sigmoid(this);
  }
  relu(): Tensor {
    return un.relu(this);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return act.gelu(this, approximate);
  }

  // comparisons (bool results, no gradient)
  eq(b: Tensor | number): Tensor {
    return cmp.equal(this, b);
  }
  gt(b: Tensor | number): Tensor {
    return cmp.greater(this, b);
  }
  lt(b: Tensor | number): Tensor {
    return cmp.less(this, b);
  }
  ge(b: Tensor | number): Tensor {
    return cmp.greaterOrEqual(this, b);
  }
  le(b: Tensor | number): Tensor {
    return cmp.lessOrEqual(this, b);
  }

  matmul(b: Tensor): Tensor {
    return matmul(this, b);
  }

  // reductions: axes default to all
  sum(axes?: number | number[], keepdims = false): Tensor {
    return red.reduceSum(this, axes, keepdims);
  }
  mean(axes?: number | number[], keepdims = false): Tensor {
    return red.reduceMean(this, axes, keepdims);
  }
  amax(axes?: number | number[], keepdims = false): Tensor {
    return red.reduceMax(this, axes, keepdims);
  }

  softmax(axis = -1): Tensor {
    return softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return logSoftmax(this, axis);
  }
  layerNorm(scale: Tensor, bias: Tensor, eps = 1e-5): Tensor {
    return nrm.layerNorm(this, scale, bias, eps);
  }
  l2normalize(axis = -1, eps = 1e-12): Tensor {
    return nrm.l2normalize(this, axis, eps);
  }

  // layout
  reshape(shape: Shape): Tensor {
    return lay.reshape(this, shape);
  }
  /** Swap the last two axes, or permute with `perm`. */
  transpose(perm?: number[]): Tensor {
    return lay.transpose(this, perm);
  }
  /** x[..., start:end, ...] along one axis. */
  slice(axis: number, start: Dim, end?: Dim): Tensor {
    return lay.slice(this, [axis], [start], end === undefined ? undefined : [end]);
  }
  unsqueeze(axes: number | number[]): Tensor {
    return lay.unsqueeze(this, axes);
  }
  squeeze(axes: number | number[]): Tensor {
    return lay.squeeze(this, axes);
  }
  expand(shape: Shape): Tensor {
    return lay.expand(this, shape);
  }
  split(axis: number, sizes: Dim[] | number): Tensor[] {
    return lay.split(this, axis, sizes);
  }

  // indexing
  gather(indices: Tensor, axis = 0): Tensor {
    return idx.gather(this, indices, axis);
  }
  gatherElements(indices: Tensor, axis: number): Tensor {
    return idx.gatherElements(this, indices, axis);
  }

  trilu(upper: boolean, k = 0): Tensor {
    return trilu(this, upper, k);
  }
  cast(to: DType): Tensor {
    return cast(this, to);
  }
  stopGradient(): Tensor {
    return lay.stopGradient(this);
  }
}
