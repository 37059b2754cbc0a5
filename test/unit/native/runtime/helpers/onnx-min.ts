// A minimal hand-written ONNX (protobuf) encoder for runtime tests and benches.
// Why: the real emitter lives in src/native/graph and is not ready; the runtime must be testable on
// its own with tiny models (Add, MatMul, Identity). Only the protobuf fields these models need are
// written; field numbers follow onnx/onnx.proto3.

export const DataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** A dimension is a fixed size or a symbolic name such as 'batch'. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  type: DataTypeCode;
  shape: Dim[];
}

export interface Initializer {
  name: string;
  type: DataTypeCode;
  dims: number[];
  /** Little-endian raw bytes (raw_data). */
  raw: Uint8Array;
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Integer attributes only; enough for the ops used in tests. */
  intAttrs?: Record<string, number>;
}

export interface ModelSpec {
  nodes: NodeSpec[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers?: Initializer[];
  opset?: number;
  irVersion?: number;
  graphName?: string;
}

class Writer {
  private readonly chunks: number[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
    return this;
  }

  tag(field: number, wire: 0 | 2): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (const b of data) this.chunks.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function writeValueInfo(w: Writer, v: ValueInfo): void {
  w.string(1, v.name); // ValueInfoProto.name
  w.message(2, (type) =>
    // TypeProto.tensor_type
    type.message(1, (tensor) => {
      tensor.int(1, v.type); // elem_type
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

/** Encodes a ModelProto. Defaults: IR version 10, opset 21 (what the engine emits). */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const w = new Writer();
  w.int(1, spec.irVersion ?? 10); // ir_version
  w.string(2, 'cleft-test'); // producer_name
  w.message(7, (g) => {
    spec.nodes.forEach((n, i) =>
      g.message(1, (node) => {
        for (const x of n.inputs) node.string(1, x);
        for (const y of n.outputs) node.string(2, y);
        node.string(3, n.name ?? `${n.op}_${i}`);
        node.string(4, n.op);
        for (const [name, value] of Object.entries(n.intAttrs ?? {})) {
          node.message(5, (a) => a.string(1, name).int(20, 2).int(3, value)); // type INT = 2
        }
      }),
    );
    g.string(2, spec.graphName ?? 'g');
    for (const init of spec.initializers ?? []) {
      g.message(5, (t) => {
        for (const d of init.dims) t.int(1, d);
        t.int(2, init.type);
        t.string(8, init.name);
        t.bytes(9, init.raw);
      });
    }
    for (const v of spec.inputs) g.message(11, (x) => writeValueInfo(x, v));
    for (const v of spec.outputs) g.message(12, (x) => writeValueInfo(x, v));
  });
  w.message(8, (o) => o.string(1, '').int(2, spec.opset ?? 21)); // opset_import (default domain)
  return w.finish();
}

/** y = x + b with b an initializer: the smallest model with weights. */
export function addConstModel(bias: Float32Array): Uint8Array {
  return encodeModel({
    nodes: [{ op: 'Add', inputs: ['x', 'b'], outputs: ['y'] }],
    inputs: [{ name: 'x', type: DataType.FLOAT, shape: ['batch', bias.length] }],
    outputs: [{ name: 'y', type: DataType.FLOAT, shape: ['batch', bias.length] }],
    initializers: [{ name: 'b', type: DataType.FLOAT, dims: [bias.length], raw: new Uint8Array(bias.buffer.slice(0)) }],
  });
}

/** c = a @ b for square n x n float32 inputs (the MatMul ceiling bench). */
export function matmulModel(m: number, k: number, n: number): Uint8Array {
  return encodeModel({
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
    inputs: [
      { name: 'a', type: DataType.FLOAT, shape: [m, k] },
      { name: 'b', type: DataType.FLOAT, shape: [k, n] },
    ],
    outputs: [{ name: 'c', type: DataType.FLOAT, shape: [m, n] }],
  });
}

/** Two inputs of different dtypes: float32 x plus int64 ids gathered from a table. */
export function gatherAddModel(table: Float32Array, rows: number, cols: number): Uint8Array {
  return encodeModel({
    nodes: [{ op: 'Gather', inputs: ['table', 'ids'], outputs: ['y'], intAttrs: { axis: 0 } }],
    inputs: [{ name: 'ids', type: DataType.INT64, shape: ['n'] }],
    outputs: [{ name: 'y', type: DataType.FLOAT, shape: ['n', cols] }],
    initializers: [{ name: 'table', type: DataType.FLOAT, dims: [rows, cols], raw: new Uint8Array(table.buffer.slice(0)) }],
  });
}
