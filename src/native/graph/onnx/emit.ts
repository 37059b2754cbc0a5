/**
 * Graph -> ONNX ModelProto. Only nodes that the requested outputs depend on are emitted (ORT runs
 * every node and needs every input), in node-id order, with names derived from op and node id: the same
 * graph always gives the same bytes.
 */
import { encodeValues, ONNX_DTYPE, type DType } from '../dtype';
import { toPoly, type Dim, type Shape } from '../shape';
import type { Graph, Node } from '../graph';
import type { EmitCtx, EmitTarget } from '../op';
import type { Tensor } from '../tensor';
import { encodeModel, type NodeProtoData, type OnnxAttr, type TensorProtoData, type ValueInfoData } from './proto';

export const IR_VERSION = 10;
export const OPSET = 21;
/** Version of the contrib domains (com.microsoft) imported when an op emits into one. */
export const CONTRIB_OPSET = 1;

export interface EmitOptions {
  /** Graph outputs by name (a gradient dictionary, a loss, logits ...). */
  outputs: Record<string, Tensor>;
  name?: string;
  /** Feed every parameter as an input, even frozen ones that have a value (tests, full fine-tuning). */
  paramsAsInputs?: boolean;
  /** Provider the model is for (default 'cpu'): ops may emit a form that provider supports. */
  target?: EmitTarget;
  /**
   * Values of symbolic dims ('batch', 'seq'): the model is emitted with static shapes (inputs declared
   * with these sizes, every shape a constant ORT folds away), for providers that cannot compute shapes
   * (WebGPU has no int64 kernels: docs/engine.md#webgpu-coverage). Dims not named here stay symbolic.
   */
  dims?: Readonly<Record<string, number>>;
}

/** `d` with the symbols of `dims` substituted: a number when every symbol it uses is given. */
export function bindDim(d: Dim, dims: Readonly<Record<string, number>> | undefined): Dim {
  if (typeof d === 'number' || !dims) return d;
  let v = 0;
  for (const [mono, coef] of toPoly(d)) {
    let term = coef;
    for (const s of mono ? mono.split('*') : []) {
      const x = dims[s];
      if (x === undefined) return d;
      term *= x;
    }
    v += term;
  }
  return v;
}

/**
 * The dims a set of fed shapes gives to the symbolic dims of a graph's inputs (an input declared
 * ['batch', 'seq'] fed as [8, 12] gives batch 8, seq 12). Plain symbols only; conflicts throw.
 */
export function dimsFromShapes(graph: Graph, shapes: Readonly<Record<string, readonly number[]>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of graph.nodes) {
    if (n.leaf?.kind !== 'input' || n.leaf.name === undefined) continue;
    const fed = shapes[n.leaf.name];
    if (!fed) continue;
    n.outputs[0]!.shape.forEach((d, i) => {
      if (typeof d !== 'string' || !/^[A-Za-z_]\w*$/.test(d) || fed[i] === undefined) return;
      if (out[d] !== undefined && out[d] !== fed[i])
        throw new Error(`input '${n.leaf!.name}': dim '${d}' is ${fed[i]} here and ${out[d]} in another input`);
      out[d] = fed[i]!;
    });
  }
  return out;
}

export interface EmittedModel {
  bytes: Uint8Array;
  inputs: ValueInfoData[];
  outputs: ValueInfoData[];
  /** Number of ONNX nodes, for diagnostics and benchmarks. */
  nodeCount: number;
}

const key = (t: Tensor) => `${t.node.id}:${t.index}`;

export function emitOnnx(graph: Graph, opts: EmitOptions): EmittedModel {
  const outputEntries = Object.entries(opts.outputs);
  if (outputEntries.length === 0) throw new Error('emitOnnx: no outputs');
  for (const [, t] of outputEntries) if (t.graph !== graph) throw new Error('emitOnnx: output from another graph');

  // Reachable nodes, in id (= topological) order.
  const seen = new Set<number>();
  const stack = outputEntries.map(([, t]) => t.node);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    for (const i of n.inputs) stack.push(i.node);
  }
  const order = [...seen].sort((a, b) => a - b).map((id) => graph.nodes[id]!);

  const used = new Set<string>();
  for (const n of order) for (const i of n.inputs) used.add(key(i));
  for (const [, t] of outputEntries) used.add(key(t));

  const taken = new Set<string>();
  const claim = (want: string): string => {
    let name = want;
    for (let k = 1; taken.has(name); k++) name = `${want}_${k}`;
    taken.add(name);
    return name;
  };

  const names = new Map<string, string>();
  const nodes: NodeProtoData[] = [];
  const initializers: TensorProtoData[] = [];
  const inputs: ValueInfoData[] = [];
  const constCache = new Map<string, string>();
  const dimCache = new Map<string, string>();
  const domains = new Set<string>();
  let nodeSeq = 0;

  // Leaves first: their names are the user's and must win over generated ones.
  for (const n of order) {
    if (!n.leaf || n.leaf.name === undefined) continue;
    names.set(key(n.outputs[0]!), claim(n.leaf.name));
  }
  // Outputs computed by ops take the output name directly (no Identity needed).
  const aliasOutputs: [string, Tensor][] = [];
  for (const [outName, t] of outputEntries) {
    if (!t.node.leaf && !names.has(key(t)) && !taken.has(outName)) names.set(key(t), claim(outName));
    else aliasOutputs.push([outName, t]);
  }

  // Symbolic dims are read at run time from the first graph input that has them on some axis.
  const dimSource = new Map<string, { input: string; axis: number }>();
  for (const n of order) {
    if (n.leaf?.kind !== 'input') continue;
    n.outputs[0]!.shape.forEach((d, axis) => {
      if (typeof d === 'string' && /^[A-Za-z_]\w*$/.test(d) && !dimSource.has(d))
        dimSource.set(d, { input: names.get(key(n.outputs[0]!))!, axis });
    });
  }

  let constCount = 0;
  /** Inline initializer; small ones are deduplicated by content (scalars like 0, 1, 0.5 recur a lot). */
  function constantRaw(dtype: DType, dims: readonly number[], raw: Uint8Array): string {
    const k = raw.length <= 4096 ? `${dtype}|${dims.join(',')}|${Buffer.from(raw).toString('base64')}` : null;
    const hit = k ? constCache.get(k) : undefined;
    if (hit) return hit;
    const name = claim(`const_${constCount++}`);
    initializers.push({ name, dataType: ONNX_DTYPE[dtype], dims: [...dims], raw });
    if (k) constCache.set(k, name);
    return name;
  }

  const bind = (s: Shape): Dim[] => s.map((d) => bindDim(d, opts.dims));
  const ctx: EmitCtx = {
    target: opts.target ?? 'cpu',
    node(opType, ins, outs, attrs: Record<string, OnnxAttr> = {}, domain?: string) {
      nodes.push({ opType, inputs: ins, outputs: outs, attrs, name: `${opType}_${nodeSeq++}`, ...(domain ? { domain } : {}) });
      if (domain) domains.add(domain);
    },
    fresh: (hint) => claim(hint),
    bind,
    constant(dtype: DType, dims, values) {
      return constantRaw(dtype, dims, encodeValues(dtype, values));
    },
    dims(unbound: Shape) {
      const shape = bind(unbound);
      if (shape.every((d) => typeof d === 'number')) return ctx.constant('int64', [shape.length], shape as number[]);
      const pieces: string[] = [];
      let run: number[] = [];
      const flush = () => {
        if (run.length) pieces.push(ctx.constant('int64', [run.length], run));
        run = [];
      };
      for (const d of shape) {
        if (typeof d === 'number') run.push(d);
        else {
          flush();
          pieces.push(dimValue(d));
        }
      }
      flush();
      if (pieces.length === 1) return pieces[0]!;
      const out = claim('dims');
      ctx.node('Concat', pieces, [out], { axis: { kind: 'int', value: 0 } });
      return out;
    },
  };

  /** [1]-shaped int64 tensor holding the run-time value of a symbolic dim expression. */
  function dimValue(d: Dim): string {
    const canon = String(d);
    const hit = dimCache.get(canon);
    if (hit) return hit;
    let acc: string | null = null;
    for (const [mono, coef] of toPoly(d)) {
      let term: string | null = null;
      for (const s of mono ? mono.split('*') : []) {
        const v = symbol(s);
        term = term ? binary('Mul', term, v) : v;
      }
      if (!term) term = ctx.constant('int64', [1], [coef]);
      else if (coef !== 1) term = binary('Mul', term, ctx.constant('int64', [1], [coef]));
      acc = acc ? binary('Add', acc, term) : term;
    }
    const out = acc ?? ctx.constant('int64', [1], [0]);
    dimCache.set(canon, out);
    return out;
  }
  function symbol(s: string): string {
    const hit = dimCache.get(s);
    if (hit) return hit;
    const src = dimSource.get(s);
    if (!src) throw new Error(`emitOnnx: symbolic dim '${s}' is not an axis of any graph input the outputs depend on`);
    const out = claim(`dim_${s}`);
    ctx.node('Shape', [src.input], [out], { start: { kind: 'int', value: src.axis }, end: { kind: 'int', value: src.axis + 1 } });
    dimCache.set(s, out);
    return out;
  }
  function binary(op: string, a: string, b: string): string {
    const out = claim('dimexpr');
    ctx.node(op, [a, b], [out]);
    return out;
  }

  const valueInfo = (name: string, t: Tensor): ValueInfoData => ({ name, dataType: ONNX_DTYPE[t.dtype], shape: bind(t.shape) });

  for (const n of order) {
    if (n.leaf) emitLeaf(n);
    else emitOp(n);
  }

  function emitLeaf(n: Node): void {
    const t = n.outputs[0]!;
    const leaf = n.leaf!;
    const fed = leaf.kind === 'input' || (leaf.kind === 'param' && (leaf.trainable || !leaf.value || opts.paramsAsInputs));
    if (fed) {
      inputs.push(valueInfo(names.get(key(t))!, t));
      return;
    }
    const value = leaf.value!;
    const dims = t.shape as number[];
    if (leaf.name === undefined && value.kind === 'inline') {
      // Anonymous constants are deduplicated by content.
      names.set(key(t), constantRaw(t.dtype, dims, value.bytes));
      return;
    }
    const name = names.get(key(t))!;
    if (value.kind === 'inline') initializers.push({ name, dataType: ONNX_DTYPE[t.dtype], dims, raw: value.bytes });
    else
      initializers.push({
        name,
        dataType: ONNX_DTYPE[t.dtype],
        dims,
        external: { location: value.location, offset: value.offset, length: value.length },
      });
  }

  function emitOp(n: Node): void {
    const outs = n.outputs.map((t) => {
      const k = key(t);
      if (!names.has(k)) names.set(k, claim(`${n.op!.name}_${n.id}${n.outputs.length > 1 ? `_${t.index}` : ''}`));
      return names.get(k)!;
    });
    n.op!.emit(ctx, {
      inputs: n.inputs.map((t) => names.get(key(t))!),
      outputs: outs,
      used: n.outputs.map((t) => used.has(key(t))),
      attrs: n.attrs,
      inTypes: n.inputs.map((t) => ({ dtype: t.dtype, shape: bind(t.shape) })),
      outTypes: n.outputs.map((t) => ({ dtype: t.dtype, shape: bind(t.shape) })),
    });
  }

  for (const [outName, t] of aliasOutputs) {
    const name = claim(outName);
    if (name !== outName) throw new Error(`emitOnnx: output name '${outName}' clashes with a tensor name`);
    ctx.node('Identity', [names.get(key(t))!], [name]);
  }
  const outputs = outputEntries.map(([outName, t]) => valueInfo(outName, t));

  const bytes = encodeModel({
    irVersion: IR_VERSION,
    opsets: [{ domain: '', version: OPSET }, ...[...domains].sort().map((domain) => ({ domain, version: CONTRIB_OPSET }))],
    producerName: 'cleft-studio',
    producerVersion: '0.1',
    graph: { name: opts.name ?? 'graph', nodes, initializers, inputs, outputs },
  });
  return { bytes, inputs, outputs, nodeCount: nodes.length };
}
