/**
 * The graph: an append-only list of nodes. Node ids grow with creation order, which is therefore a
 * topological order and the basis of deterministic emission.
 */
import { DTYPE_BYTES, encodeValues, type DType } from './dtype';
import { canonicalDim, fmtShape, isStatic, ShapeError, type Dim, type Shape } from './shape';
import type { ExternalLocation } from './onnx/proto';
import type { OpDef, TensorType } from './op';
import { Tensor } from './tensor';

/** Where a frozen parameter's bytes live when it is emitted as an initializer. */
export type ParamValue = { kind: 'inline'; bytes: Uint8Array } | ({ kind: 'external' } & ExternalLocation);

export type LeafKind = 'input' | 'param' | 'constant';

export interface LeafInfo {
  kind: LeafKind;
  name: string | undefined;
  trainable: boolean;
  /** Constants always have bytes; params may (initializer) or may not (fed as input). */
  value: ParamValue | undefined;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- a node holds an op of any attribute type; op.ts types each op's attrs */
export interface Node {
  readonly id: number;
  readonly op: OpDef<any> | null; // null for leaves
  readonly inputs: readonly Tensor[];
  readonly attrs: any;
  readonly outputs: Tensor[];
  readonly leaf: LeafInfo | undefined;
}

export interface ParamOptions {
  dtype?: DType;
  trainable?: boolean;
  value?: ParamValue;
}

/**
 * A block whose internals the backward recomputes instead of keeping (activation checkpointing):
 * nodes firstId..lastId are `fn(inputs)`; autodiff.ts runs `fn` again on the inputs, tied to the
 * outputs' gradients so that the copy runs only in the backward, and differentiates the copy.
 */
export interface Checkpoint {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly firstId: number;
  readonly lastId: number;
  readonly fn: (xs: readonly Tensor[]) => Tensor[];
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly checkpoints: Checkpoint[] = [];
  /** > 0 while autodiff rebuilds a checkpoint (nested checkpoints are then plain code). */
  recomputing = 0;
  private readonly names = new Set<string>();

  private addNode(op: OpDef<any> | null, inputs: Tensor[], attrs: unknown, types: TensorType[], leaf?: LeafInfo): Node {
    /* eslint-enable @typescript-eslint/no-explicit-any */
    const node: Node = { id: this.nodes.length, op, inputs, attrs, outputs: [], leaf };
    types.forEach((t, i) => node.outputs.push(new Tensor(this, node, i, t.dtype, t.shape.map(canonicalDim))));
    this.nodes.push(node);
    return node;
  }

  private claim(name: string): void {
    if (!/^[A-Za-z_][\w.:/-]*$/.test(name)) throw new Error(`invalid tensor name '${name}'`);
    if (this.names.has(name)) throw new Error(`duplicate tensor name '${name}'`);
    this.names.add(name);
  }

  /** A graph input fed at run time (the batch). Symbolic dims ('batch') may appear only in inputs. */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    this.claim(name);
    return this.addNode(null, [], {}, [{ dtype, shape: [...shape] }], {
      kind: 'input',
      name,
      trainable: false,
      value: undefined,
    }).outputs[0]!;
  }

  /** A parameter with a static shape. Trainable ones are fed per step; frozen ones become initializers. */
  param(name: string, shape: readonly number[], opts: ParamOptions = {}): Tensor {
    this.claim(name);
    const dtype = opts.dtype ?? 'float32';
    if (!isStatic(shape)) throw new ShapeError(`param '${name}': shape must be static, got ${fmtShape(shape)}`);
    if (opts.value?.kind === 'inline') checkBytes(`param '${name}'`, dtype, shape, opts.value.bytes.length);
    if (opts.value?.kind === 'external') checkBytes(`param '${name}'`, dtype, shape, opts.value.length);
    return this.addNode(null, [], {}, [{ dtype, shape: [...shape] }], {
      kind: 'param',
      name,
      trainable: opts.trainable ?? false,
      value: opts.value,
    }).outputs[0]!;
  }

  /** A constant from JS values (row-major). */
  constant(values: ArrayLike<number | bigint | boolean>, dtype: DType, shape: readonly number[], name?: string): Tensor {
    if (name !== undefined) this.claim(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (values.length !== n) throw new ShapeError(`constant: ${values.length} values for shape ${fmtShape(shape)}`);
    return this.addNode(null, [], {}, [{ dtype, shape: [...shape] }], {
      kind: 'constant',
      name,
      trainable: false,
      value: { kind: 'inline', bytes: encodeValues(dtype, values) },
    }).outputs[0]!;
  }

  scalar(value: number | bigint | boolean, dtype: DType): Tensor {
    return this.constant([value], dtype, []);
  }

  /** Apply an op: infers output types now, so shape errors point at the model line that caused them. */
  apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor[] {
    for (const t of inputs) {
      if (t.graph !== this) throw new Error(`${op.name}: input ${t} belongs to another graph`);
    }
    const types = op.infer(
      inputs.map((t) => ({ dtype: t.dtype, shape: [...t.shape] })),
      attrs,
    );
    return this.addNode(op, [...inputs], attrs, types).outputs;
  }

  /**
   * `fn(inputs)`, marked so that `grad` keeps only `inputs` for the backward and recomputes the rest
   * (see Checkpoint). `fn` must build the same nodes when called again (no new names, no
   * call-order state such as dropout salts) and read the outside only through `inputs`, frozen
   * weights and trainable params.
   */
  checkpoint(inputs: readonly Tensor[], fn: (xs: readonly Tensor[]) => Tensor[]): Tensor[] {
    if (this.recomputing > 0) return fn(inputs);
    const firstId = this.nodes.length;
    const outputs = fn(inputs);
    const lastId = this.nodes.length - 1;
    if (lastId >= firstId) this.checkpoints.push({ inputs: [...inputs], outputs, firstId, lastId, fn });
    return outputs;
  }

  /** All parameters, in creation order. */
  params(filter?: { trainable?: boolean }): Tensor[] {
    return this.nodes
      .filter((n) => n.leaf?.kind === 'param' && (filter?.trainable === undefined || n.leaf.trainable === filter.trainable))
      .map((n) => n.outputs[0]!);
  }
}

function checkBytes(what: string, dtype: DType, shape: readonly number[], length: number): void {
  const want = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  if (want !== length) throw new ShapeError(`${what}: ${length} bytes given, ${dtype}${fmtShape(shape)} needs ${want}`);
}

export type { Dim };
