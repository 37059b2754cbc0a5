// Tensors as they cross a thread/process boundary: plain objects around a typed array, so they
// survive structured clone and their buffers can be transferred instead of copied.
import { ort, type OrtTensor } from './ort';

export interface WireDataMap {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array; // raw IEEE half bits, as ORT's Node binding expects
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  int8: Int8Array;
  bool: Uint8Array;
}
export type WireDType = keyof WireDataMap;

export type WireTensor = {
  [T in WireDType]: { type: T; dims: number[]; data: WireDataMap[T] };
}[WireDType];

export type WireFeeds = Record<string, WireTensor>;

function checkSize(dims: readonly number[], length: number): void {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length) {
    throw new Error(`Tensor dims [${dims.join(', ')}] need ${size} elements, data has ${length}`);
  }
}

/** A float32 tensor; dims default to a vector. */
export function f32(data: Float32Array | readonly number[], dims?: readonly number[]): WireTensor {
  const d = data instanceof Float32Array ? data : Float32Array.from(data);
  const shape = dims ? [...dims] : [d.length];
  checkSize(shape, d.length);
  return { type: 'float32', dims: shape, data: d };
}

/** An int64 tensor (token ids, labels, lengths); dims default to a vector. */
export function i64(data: BigInt64Array | readonly (number | bigint)[], dims?: readonly number[]): WireTensor {
  const d = data instanceof BigInt64Array ? data : BigInt64Array.from(data, (v) => BigInt(v));
  const shape = dims ? [...dims] : [d.length];
  checkSize(shape, d.length);
  return { type: 'int64', dims: shape, data: d };
}

export function toOrtTensor(t: WireTensor): OrtTensor {
  checkSize(t.dims, t.data.length);
  // ORT wraps the typed array without copying.
  return new ort.Tensor(t.type, t.data, t.dims);
}

const WIRE_TYPES = new Set<string>(['float32', 'float64', 'float16', 'int64', 'int32', 'uint8', 'int8', 'bool']);

export function fromOrtTensor(name: string, t: OrtTensor): WireTensor {
  if (!WIRE_TYPES.has(t.type)) throw new Error(`Output "${name}" has unsupported type ${t.type}`);
  return { type: t.type, dims: [...t.dims], data: t.data } as WireTensor;
}

/** The distinct ArrayBuffers behind some tensors, for a postMessage transfer list. */
export function transferListOf(tensors: Iterable<WireTensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of tensors) {
    const b = t.data.buffer;
    // SharedArrayBuffers are shared, not transferred.
    if (b instanceof ArrayBuffer) buffers.add(b);
  }
  return [...buffers];
}
