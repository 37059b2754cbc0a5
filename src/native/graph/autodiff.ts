/**
 * Reverse-mode autodiff. `grad(loss, wrt)` appends gradient nodes (built from the ops' own rules, so
 * they are ordinary IR and emit to standard ONNX) and returns one gradient tensor per `wrt` entry.
 *
 * Only nodes on a path from some `wrt` tensor to the loss get rules applied; everything else (frozen
 * weights, constants, inputs not asked for) is never differentiated. Fan-out is accumulated by Add.
 */
import { isFloat } from './dtype';
import { fmtShape, isStatic, numel, shapeEq, ShapeError } from './shape';
import type { Tensor } from './tensor';
import { fill } from './ops/creation';
import { add } from './ops/elementwise';

const key = (t: Tensor) => `${t.node.id}:${t.index}`;

export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  const graph = loss.graph;
  if (!isFloat(loss.dtype)) throw new ShapeError(`grad: loss must be float, got ${loss.dtype}`);
  if (!isStatic(loss.shape) || numel(loss.shape) !== 1) throw new ShapeError(`grad: loss must be a scalar, got ${fmtShape(loss.shape)}`);
  for (const w of wrt) {
    if (w.graph !== graph) throw new Error(`grad: ${w} belongs to another graph`);
    const leaf = w.node.leaf;
    if (leaf?.kind === 'param' && !leaf.trainable)
      throw new Error(`grad: parameter '${leaf.name}' is frozen; make it trainable to differentiate it`);
    if (leaf?.kind === 'constant') throw new Error('grad: cannot differentiate with respect to a constant');
    if (!isFloat(w.dtype)) throw new Error(`grad: ${w} is not a float tensor`);
  }

  // Forward sweep: which tensors depend on some wrt tensor through differentiable ops.
  const depends = new Set(wrt.map(key));
  const lastId = loss.node.id;
  const firstId = Math.min(...wrt.map((w) => w.node.id), lastId);
  for (let id = firstId; id <= lastId; id++) {
    const n = graph.nodes[id]!;
    if (!n.op?.grad) continue;
    if (n.inputs.some((i) => depends.has(key(i)))) for (const o of n.outputs) if (isFloat(o.dtype)) depends.add(key(o));
  }

  // Backward sweep over a snapshot of the node list (rules append new nodes).
  const pending = new Map<string, Tensor[]>();
  const push = (t: Tensor, g: Tensor) => {
    const list = pending.get(key(t));
    if (list) list.push(g);
    else pending.set(key(t), [g]);
  };
  const total = (t: Tensor): Tensor | null => {
    const list = pending.get(key(t));
    if (!list) return null;
    const sum = list.reduce((a, b) => add(a, b));
    pending.set(key(t), [sum]);
    return sum;
  };
  push(loss, fill(graph, loss.shape, 1, loss.dtype));

  for (let id = lastId; id >= firstId; id--) {
    const n = graph.nodes[id]!;
    if (!n.op?.grad || !n.outputs.some((o) => depends.has(key(o)))) continue;
    const grads = n.outputs.map(total);
    if (grads.every((g) => g === null)) continue;
    const needs = n.inputs.map((i) => depends.has(key(i)));
    const ins = n.op.grad({ inputs: n.inputs, outputs: n.outputs, grads, needs, attrs: n.attrs });
    n.inputs.forEach((input, i) => {
      const g = ins[i];
      if (!needs[i] || !g) return;
      if (!shapeEq(g.shape, input.shape) || g.dtype !== input.dtype) {
        throw new Error(
          `grad rule of ${n.op!.name} gave ${g.dtype}${fmtShape(g.shape)} for input ${i} of type ${input.dtype}${fmtShape(input.shape)}`,
        );
      }
      push(input, g);
    });
  }

  return wrt.map((w) => total(w) ?? fill(graph, w.shape, 0, w.dtype));
}
