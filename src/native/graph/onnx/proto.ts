/**
 * Plain-data ONNX messages and their encoders (field numbers from onnx/onnx.proto, ir_version 10).
 * Only the fields the engine writes are modelled.
 */
import { PbWriter } from './protobuf';
import type { Dim } from '../shape';

export type OnnxAttr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: TensorProtoData };

/** Attribute constructors, so emit code says what ONNX type an attribute has. */
export const attr = {
  int: (value: number): OnnxAttr => ({ kind: 'int', value }),
  float: (value: number): OnnxAttr => ({ kind: 'float', value }),
  string: (value: string): OnnxAttr => ({ kind: 'string', value }),
  ints: (value: readonly number[]): OnnxAttr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttr => ({ kind: 'floats', value }),
  tensor: (value: TensorProtoData): OnnxAttr => ({ kind: 'tensor', value }),
};

export interface ExternalLocation {
  /** Path relative to the directory of the .onnx file. */
  location: string;
  offset: number;
  length: number;
}

export interface TensorProtoData {
  name: string;
  dataType: number;
  dims: readonly number[];
  raw?: Uint8Array;
  external?: ExternalLocation;
}

export interface NodeProtoData {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
  domain?: string;
  attrs: Record<string, OnnxAttr>;
}

export interface ValueInfoData {
  name: string;
  dataType: number;
  /** Omitted: shape unknown (rank too). */
  shape?: readonly Dim[];
}

export interface GraphProtoData {
  name: string;
  nodes: NodeProtoData[];
  initializers: TensorProtoData[];
  inputs: ValueInfoData[];
  outputs: ValueInfoData[];
}

export interface ModelProtoData {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: GraphProtoData;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

export function encodeTensor(t: TensorProtoData): PbWriter {
  const w = new PbWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.dataType);
  w.string(8, t.name);
  if (t.raw) w.bytes(9, t.raw);
  if (t.external) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [k, v] of entries) {
      const e = new PbWriter();
      e.string(1, k);
      e.string(2, v);
      w.message(13, e);
    }
    w.varint(14, 1); // data_location = EXTERNAL
  }
  return w;
}

function encodeAttr(name: string, a: OnnxAttr): PbWriter {
  const w = new PbWriter();
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.varint(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value));
      break;
    case 'floats':
      for (const f of a.value) w.float(7, f);
      break;
    case 'ints':
      for (const i of a.value) w.varint(8, i);
      break;
  }
  w.varint(20, ATTR_TYPE[a.kind]);
  return w;
}

function encodeNode(n: NodeProtoData): PbWriter {
  const w = new PbWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  // Attributes sorted by name: emit code may build them in any order, bytes must not depend on it.
  for (const k of Object.keys(n.attrs).sort()) w.message(5, encodeAttr(k, n.attrs[k]!));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function encodeValueInfo(v: ValueInfoData): PbWriter {
  const shape = new PbWriter();
  for (const d of v.shape ?? []) {
    const dim = new PbWriter();
    if (typeof d === 'number') dim.varint(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new PbWriter();
  tensorType.varint(1, v.dataType);
  if (v.shape) tensorType.message(2, shape);
  const type = new PbWriter();
  type.message(1, tensorType);
  const w = new PbWriter();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

export function encodeModel(m: ModelProtoData): Uint8Array {
  const g = new PbWriter();
  for (const n of m.graph.nodes) g.message(1, encodeNode(n));
  g.string(2, m.graph.name);
  for (const t of m.graph.initializers) g.message(5, encodeTensor(t));
  for (const v of m.graph.inputs) g.message(11, encodeValueInfo(v));
  for (const v of m.graph.outputs) g.message(12, encodeValueInfo(v));

  const w = new PbWriter();
  w.varint(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  w.message(7, g);
  for (const o of m.opsets) {
    const op = new PbWriter();
    if (o.domain) op.string(1, o.domain);
    op.varint(2, o.version);
    w.message(8, op);
  }
  return w.finish();
}
