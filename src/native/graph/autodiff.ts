/**
 * Reverse-mode autodiff. `grad(loss, wrt)` appends gradient nodes (built from the ops' own rules, so
 * they are ordinary IR and emit to standard ONNX) and returns one gradient tensor per `wrt` entry.
 *
 * Only nodes on a path from some `wrt` tensor to the loss get rules applied; everything else (frozen
 * weights, constants, inputs not asked for) is never differentiated. Fan-out is accumulated by Add.
 *
 * Checkpoints (Graph.checkpoint): the sweep skips a checkpoint's nodes and instead rebuilds them from
 * its inputs, each input first passed through `Where(g0 < g0, x, x)` with g0 one element of an output
 * gradient. That is x exactly (both branches are x), but a node the forward cannot compute, so ORT
 * neither merges the copy with the forward (common-subexpression elimination) nor runs it early: the
 * block's internals are alive only while its own backward runs, and only block inputs are kept.
 */
import { isFloat } from './dtype';
import { fmtShape, isStatic, numel, shapeEq, ShapeError } from './shape';
import type { Tensor } from './tensor';
import type { Checkpoint, Graph } from './graph';
import { fill } from './ops/creation';
import { add } from './ops/elementwise';
import { where } from './ops/compare';
import { slice } from './ops/layout';

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
  const firstId = Math.min(...wrt.map((w) => w.node.id), loss.node.id);
  const out = vjp(graph, [[loss, fill(graph, loss.shape, 1, loss.dtype)]], wrt, firstId);
  return wrt.map((w, i) => out[i] ?? fill(graph, w.shape, 0, w.dtype));
}

/**
 * Gradients of `seeds` (tensor, its output gradient) with respect to `wrt`, sweeping nodes
 * lastId..firstId (null where no path reaches). Nodes below `firstId` are never differentiated.
 */
function vjp(graph: Graph, seeds: readonly [Tensor, Tensor][], wrt: readonly Tensor[], firstId: number): (Tensor | null)[] {
  // Forward sweep: which tensors depend on some wrt tensor through differentiable ops.
  const depends = new Set(wrt.map(key));
  const lastId = Math.max(...seeds.map(([t]) => t.node.id));
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
  for (const [t, g] of seeds) push(t, g);

  const segments = new Map<number, Checkpoint>();
  for (const c of graph.recomputing === 0 ? graph.checkpoints : [])
    if (c.firstId > firstId && c.lastId <= lastId && c.outputs.some((o) => depends.has(key(o)))) segments.set(c.lastId, c);

  for (let id = lastId; id >= firstId; id--) {
    const seg = segments.get(id);
    if (seg) {
      recompute(seg);
      id = seg.firstId; // the loop's id-- continues below the block
      continue;
    }
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
  return wrt.map(total);

  function recompute(seg: Checkpoint): void {
    const outs = seg.outputs.map((o) => (depends.has(key(o)) ? total(o) : null));
    const anchor = outs.find((g) => g !== null);
    const inner = new Set(seg.outputs.map(key));
    for (let id = seg.firstId; id <= seg.lastId; id++)
      for (const o of graph.nodes[id]!.outputs)
        if (!inner.has(key(o)) && pending.has(key(o)))
          throw new Error(`grad: ${o}, made inside a checkpoint, is used after it; return it from the checkpoint`);
    if (!anchor) return;
    const start = graph.nodes.length;
    const g0 = slice(
      anchor,
      [...anchor.shape.keys()],
      anchor.shape.map(() => 0),
      anchor.shape.map(() => 1),
    );
    const late = g0.lt(g0);
    const tied = seg.inputs.map((x) => (depends.has(key(x)) ? where(late, x, x) : x));
    graph.recomputing++;
    let ys: Tensor[];
    try {
      ys = seg.fn(tied);
    } finally {
      graph.recomputing--;
    }
    if (ys.length !== seg.outputs.length || ys.some((y, i) => !shapeEq(y.shape, seg.outputs[i]!.shape)))
      throw new Error('grad: a checkpoint rebuilt different outputs; its function must be repeatable');
    const innerSeeds = ys.flatMap((y, i) => (outs[i] ? [[y, outs[i]] as [Tensor, Tensor]] : []));
    const needIn = seg.inputs.map((x) => depends.has(key(x)));
    const innerWrt = [...tied.filter((_, i) => needIn[i]), ...wrt];
    const gs = vjp(graph, innerSeeds, innerWrt, start);
    let k = 0;
    seg.inputs.forEach((x, i) => {
      if (!needIn[i]) return;
      const g = gs[k++];
      if (g) push(x, g);
    });
    wrt.forEach((w, i) => {
      const g = gs[k + i];
      if (g) push(w, g);
    });
  }
}
