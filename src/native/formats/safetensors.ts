/**
 * safetensors reader and writer of our own.
 *
 * Format: u64 little-endian header length N, N bytes of UTF-8 JSON
 *   { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": { str: str } }
 * padded with spaces, then the data. Offsets are relative to the start of the data (8 + N).
 *
 * The reader only reads the header (fd + read), so the engine can point ONNX external data at
 * `byteOffset` / `byteLength` inside the file. It validates what the Rust library validates (and a
 * little more) and names the file and tensor in every error.
 *
 * The writer by default lays files out exactly as the Python `safetensors` library (Rust core) does:
 * tensors sorted by dtype (descending, in the Rust `Dtype` enum order, i.e. by alignment) then by
 * name (byte order), `__metadata__` first, compact JSON (serde_json), header padded with spaces to a
 * multiple of 8. `HeaderStyle` can reproduce other writers (insertion order, Python `json.dumps`
 * separators, metadata last), and `readSafetensorsHeader` detects the style of a file so it can be
 * rewritten byte for byte.
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../io/atomic-write';
import { scanJson } from './json-scan';
import { pyJsonString } from './pyjson';

// ---------------------------------------------------------------------------------------------
// dtypes

/** Dtypes in the order of the Rust `safetensors::Dtype` enum (increasing alignment). */
export const DTYPE_ORDER = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;

/** The dtypes this module reads and writes (sub-byte dtypes F4/F6 are not supported). */
export type Dtype =
  'BOOL' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'F8_E8M0' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

/**
 * Typed array per dtype. F16 and BF16 are kept raw as Uint16Array (use `f16ToF32` / `bf16ToF32`);
 * BOOL and the 8-bit floats as Uint8Array.
 */
export interface DtypeArrayMap {
  BOOL: Uint8Array;
  U8: Uint8Array;
  I8: Int8Array;
  F8_E5M2: Uint8Array;
  F8_E4M3: Uint8Array;
  F8_E8M0: Uint8Array;
  I16: Int16Array;
  U16: Uint16Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I32: Int32Array;
  U32: Uint32Array;
  F32: Float32Array;
  F64: Float64Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
}
export type TensorData = DtypeArrayMap[Dtype];

export interface Tensor<D extends Dtype = Dtype> {
  dtype: D;
  shape: number[];
  data: DtypeArrayMap[D];
}

/** A tensor to write: `data` may be any typed array (or raw bytes) with the right byte length. */
export interface TensorInput {
  dtype: Dtype;
  shape: readonly number[];
  data: ArrayBufferView;
}

function viewAs(dtype: Dtype, buf: ArrayBuffer, byteOffset: number, count: number): TensorData {
  switch (dtype) {
    case 'BOOL':
    case 'U8':
    case 'F8_E5M2':
    case 'F8_E4M3':
    case 'F8_E8M0':
      return new Uint8Array(buf, byteOffset, count);
    case 'I8':
      return new Int8Array(buf, byteOffset, count);
    case 'I16':
      return new Int16Array(buf, byteOffset, count);
    case 'U16':
    case 'F16':
    case 'BF16':
      return new Uint16Array(buf, byteOffset, count);
    case 'I32':
      return new Int32Array(buf, byteOffset, count);
    case 'U32':
      return new Uint32Array(buf, byteOffset, count);
    case 'F32':
      return new Float32Array(buf, byteOffset, count);
    case 'F64':
      return new Float64Array(buf, byteOffset, count);
    case 'I64':
      return new BigInt64Array(buf, byteOffset, count);
    case 'U64':
      return new BigUint64Array(buf, byteOffset, count);
  }
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors: this module assumes a little-endian host');
}

// ---------------------------------------------------------------------------------------------
// half-precision conversions

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** bfloat16 bits -> float32 (exact). */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** float32 -> bfloat16 bits, round to nearest even (as torch does); NaN stays NaN. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = (x >>> 16) | 0x0040; // quiet NaN
    } else {
      out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

/** IEEE half bits -> float32 (exact, including subnormals, inf, NaN). */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]!);
  return out;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 -> IEEE half bits, round to nearest even, overflow to inf. */
export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return out;
}

export function floatToHalf(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const halfMant = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    let r = halfMant;
    if (rem > halfway || (rem === halfway && halfMant & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++; // a carry into the exponent is correct (up to inf)
  return sign | r;
}

/** Any float tensor (F32/F16/BF16/F64) as a Float32Array (F32 is returned as is). */
export function toFloat32(t: Tensor): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return f16ToF32(t.data as Uint16Array);
    case 'BF16':
      return bf16ToF32(t.data as Uint16Array);
    case 'F64':
      return Float32Array.from(t.data as Float64Array);
    default:
      throw new Error(`toFloat32: dtype ${t.dtype} is not a floating-point dtype`);
  }
}

// ---------------------------------------------------------------------------------------------
// errors

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    /** The problem alone, without file and tensor. */
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor !== undefined ? `: tensor "${tensor}"` : ''}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

// ---------------------------------------------------------------------------------------------
// a strict, order-preserving JSON parser for headers (JSON.parse reorders integer-like keys and
// silently accepts duplicate keys; both matter here)

type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
type JsonObject = Map<string, JsonValue>;

class JsonParseError extends Error {}

function parseJsonOrdered(text: string): JsonValue {
  return scanJson(text, {
    object: (entries, fail) => {
      const obj: JsonObject = new Map();
      for (const [k, v] of entries) {
        if (obj.has(k)) fail(`duplicate key "${k}"`);
        obj.set(k, v as JsonValue);
      }
      return obj;
    },
    number: (raw) => Number(raw),
    error: (what, at) => new JsonParseError(`${what} at character ${at}`),
  }) as JsonValue;
}

// ---------------------------------------------------------------------------------------------
// header style (how a writer formats the header)

export interface HeaderStyle {
  /** 'safetensors': sort by dtype (descending alignment) then name, as the official library; 'insertion': as given. */
  order: 'safetensors' | 'insertion';
  /** 'compact': serde_json / JSON.stringify; 'python': Python json.dumps defaults (", ", ": ", ensure_ascii). */
  json: 'compact' | 'python';
  /** Where `__metadata__` goes. The official library writes it first. */
  metadata: 'first' | 'last';
  /** Pad the header with spaces to a multiple of 8 bytes (the official library does). */
  pad8: boolean;
}

/** The layout of the official Python/Rust `safetensors` library (save_file / serialize). */
export const SAFETENSORS_STYLE: Readonly<HeaderStyle> = Object.freeze({
  order: 'safetensors',
  json: 'compact',
  metadata: 'first',
  pad8: true,
});

function jsonString(s: string, style: HeaderStyle['json']): string {
  return style === 'python' ? pyJsonString(s) : JSON.stringify(s);
}

function dtypeRank(d: string): number {
  return (DTYPE_ORDER as readonly string[]).indexOf(d);
}

/** Sort rule of the official writer: dtype descending (Rust enum order), then name by bytes. */
export function safetensorsOrder(entries: readonly { name: string; dtype: string }[]): string[] {
  const keyed = entries.map((e) => ({ name: e.name, rank: dtypeRank(e.dtype), bytes: Buffer.from(e.name, 'utf8') }));
  return keyed.sort((l, r) => r.rank - l.rank || Buffer.compare(l.bytes, r.bytes)).map((e) => e.name);
}

function encodeHeader(
  entries: readonly { name: string; dtype: Dtype; shape: readonly number[]; begin: number; end: number }[],
  metadata: Record<string, string> | null | undefined,
  style: HeaderStyle,
): Uint8Array {
  const py = style.json === 'python';
  const colon = py ? ': ' : ':';
  const comma = py ? ', ' : ',';
  const parts: string[] = [];
  let meta: string | null = null;
  if (metadata) {
    const m = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== 'string') throw new Error(`safetensors metadata value for "${k}" must be a string`);
      return jsonString(k, style.json) + colon + jsonString(v, style.json);
    });
    meta = jsonString('__metadata__', style.json) + colon + '{' + m.join(comma) + '}';
  }
  if (meta !== null && style.metadata === 'first') parts.push(meta);
  for (const e of entries) {
    parts.push(
      jsonString(e.name, style.json) +
        colon +
        '{' +
        jsonString('dtype', style.json) +
        colon +
        jsonString(e.dtype, style.json) +
        comma +
        jsonString('shape', style.json) +
        colon +
        '[' +
        e.shape.join(comma) +
        ']' +
        comma +
        jsonString('data_offsets', style.json) +
        colon +
        '[' +
        e.begin +
        comma +
        e.end +
        ']}',
    );
  }
  if (meta !== null && style.metadata === 'last') parts.push(meta);
  let text = '{' + parts.join(comma) + '}';
  const bytes = Buffer.from(text, 'utf8');
  if (style.pad8 && bytes.length % 8 !== 0) {
    text += ' '.repeat(8 - (bytes.length % 8));
    return Buffer.from(text, 'utf8');
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// reading

export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  byteOffset: number;
  byteLength: number;
  /** Offsets relative to the data start, as stored in the header. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** The file this header was read from (as given). */
  path: string;
  /** In header order. */
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string> | null;
  /** Absolute offset of the data section: 8 + header length. */
  dataStart: number;
  headerLength: number;
  fileSize: number;
  /** The style the header was written in, when it is one we can reproduce (else null). */
  style: HeaderStyle | null;
}

/** Header size limit of the Rust library (100 MB). */
export const MAX_HEADER_SIZE = 100_000_000;

/**
 * Parses and validates a header from its raw bytes (the N bytes after the length prefix).
 * `fileSize` is the total file size, used to check offsets against the data length.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, file = '<buffer>'): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataStart = 8 + headerLength;
  const err = (msg: string, tensor?: string) => new SafetensorsError(file, msg, tensor);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw err('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw err(`header does not start with '{' (not a safetensors file?)`);
  let root: JsonValue;
  try {
    root = parseJsonOrdered(text);
  } catch (e) {
    throw err(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!(root instanceof Map)) throw err('header JSON is not an object');

  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> | null = null;
  for (const [name, v] of root) {
    if (name === '__metadata__') {
      if (!(v instanceof Map)) throw err('__metadata__ must be an object of strings');
      metadata = {};
      for (const [k, s] of v) {
        if (typeof s !== 'string') throw err(`__metadata__["${k}"] must be a string`);
        Object.defineProperty(metadata, k, { value: s, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    if (!(v instanceof Map)) throw err('entry is not an object', name);
    const dtype = v.get('dtype');
    const shape = v.get('shape');
    const offs = v.get('data_offsets');
    if (typeof dtype !== 'string') throw err('missing "dtype"', name);
    if (!isDtype(dtype)) throw err(`unknown or unsupported dtype "${dtype}"`, name);
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
      throw err(`"shape" must be an array of non-negative integers, got ${JSON.stringify(plain(shape))}`, name);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
      throw err(`"data_offsets" must be two non-negative integers, got ${JSON.stringify(plain(offs))}`, name);
    for (const k of v.keys()) if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') throw err(`unexpected field "${k}"`, name);
    const [begin, end] = offs as [number, number];
    if (end < begin) throw err(`data_offsets out of order: [${begin}, ${end}]`, name);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = numel * DTYPE_SIZE[dtype];
    if (end - begin !== expected)
      throw err(`byte length ${end - begin} does not match shape [${(shape as number[]).join(', ')}] x ${dtype} (${expected} bytes)`, name);
    tensors.set(name, {
      name,
      dtype,
      shape: [...(shape as number[])],
      byteOffset: dataStart + begin,
      byteLength: end - begin,
      dataOffsets: [begin, end],
    });
  }

  // Offsets must tile the data section exactly: no overlap, no gap, nothing past the end.
  const dataLength = fileSize - dataStart;
  const byBegin = [...tensors.values()].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let cursor = 0;
  let prev: TensorEntry | null = null;
  for (const t of byBegin) {
    const [b, e] = t.dataOffsets;
    if (b < cursor) throw err(`data_offsets [${b}, ${e}] overlap tensor "${prev!.name}" [${prev!.dataOffsets.join(', ')}]`, t.name);
    if (b > cursor) throw err(`data_offsets [${b}, ${e}] leave a gap after byte ${cursor} of the data section`, t.name);
    if (e > dataLength) throw err(`data_offsets [${b}, ${e}] run past the end of the data (${dataLength} bytes): file truncated?`, t.name);
    cursor = e;
    prev = t;
  }
  if (cursor !== dataLength)
    throw err(`data section is ${dataLength} bytes but the tensors cover ${cursor} (trailing bytes or truncated file)`);

  const header: SafetensorsHeader = {
    path: file,
    tensors,
    metadata,
    dataStart,
    headerLength,
    fileSize,
    style: null,
  };
  header.style = detectStyle(headerBytes, header);
  return header;
}

function plain(v: JsonValue | undefined): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

function detectStyle(headerBytes: Uint8Array, h: SafetensorsHeader): HeaderStyle | null {
  const entries = [...h.tensors.values()].map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    begin: t.dataOffsets[0],
    end: t.dataOffsets[1],
  }));
  const names = entries.map((e) => e.name);
  const sorted = safetensorsOrder(entries);
  const isSorted = names.every((n, k) => n === sorted[k]);
  // data must be laid out in header order for any writer we emulate
  let off = 0;
  for (const e of entries) {
    if (e.begin !== off) return null;
    off = e.end;
  }
  for (const json of ['compact', 'python'] as const)
    for (const metadata of ['first', 'last'] as const)
      for (const pad8 of [true, false]) {
        const style: HeaderStyle = { order: isSorted ? 'safetensors' : 'insertion', json, metadata, pad8 };
        const enc = encodeHeader(entries, h.metadata, style);
        if (Buffer.compare(Buffer.from(enc), Buffer.from(headerBytes)) === 0) return style;
      }
  return null;
}

/** Reads and validates only the header of a safetensors file. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new SafetensorsError(file, `cannot open: ${(e as Error).message}`);
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) throw new SafetensorsError(file, `file is ${fileSize} bytes, too small for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    readFully(fd, lenBuf, 0, file);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER_SIZE))
      throw new SafetensorsError(file, `header length ${n} is larger than the ${MAX_HEADER_SIZE}-byte limit`);
    if (n > BigInt(fileSize - 8))
      throw new SafetensorsError(
        file,
        `header length ${n} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`,
      );
    const headerBytes = Buffer.alloc(Number(n));
    readFully(fd, headerBytes, 8, file);
    return parseSafetensorsHeader(headerBytes, fileSize, file);
  } finally {
    fs.closeSync(fd);
  }
}

function readFully(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.length) {
    const chunk = Math.min(target.length - done, 1 << 30);
    const r = fs.readSync(fd, target, done, chunk, position + done);
    if (r === 0) throw new SafetensorsError(file, `unexpected end of file at byte ${position + done}`);
    done += r;
  }
}

/** Reads one tensor's data into a fresh (aligned) typed array. */
export function readTensor(file: string | SafetensorsHeader, name: string): Tensor {
  const header = typeof file === 'string' ? readSafetensorsHeader(file) : file;
  const entry = header.tensors.get(name);
  if (!entry) throw new SafetensorsError(header.path, 'no such tensor in the file', name);
  const fd = fs.openSync(header.path, 'r');
  try {
    return readEntry(fd, header, entry);
  } finally {
    fs.closeSync(fd);
  }
}

function readEntry(fd: number, header: SafetensorsHeader, entry: TensorEntry): Tensor {
  const size = fs.fstatSync(fd).size;
  if (entry.byteOffset + entry.byteLength > size)
    throw new SafetensorsError(header.path, `file was truncated after its header was read (${size} bytes)`, entry.name);
  const ab = new ArrayBuffer(entry.byteLength);
  readFully(fd, new Uint8Array(ab), entry.byteOffset, header.path);
  const count = entry.byteLength / DTYPE_SIZE[entry.dtype];
  return { dtype: entry.dtype, shape: [...entry.shape], data: viewAs(entry.dtype, ab, 0, count) };
}

/** Reads several (default: all) tensors, in header order. */
export function readTensors(file: string | SafetensorsHeader, names?: readonly string[]): Map<string, Tensor> {
  const header = typeof file === 'string' ? readSafetensorsHeader(file) : file;
  const want = names ?? [...header.tensors.keys()];
  const out = new Map<string, Tensor>();
  const fd = fs.openSync(header.path, 'r');
  try {
    for (const n of want) {
      const e = header.tensors.get(n);
      if (!e) throw new SafetensorsError(header.path, 'no such tensor in the file', n);
      out.set(n, readEntry(fd, header, e));
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Reads a floating-point tensor (F32/F16/BF16/F64) as Float32Array. */
export function readTensorF32(file: string | SafetensorsHeader, name: string): Float32Array {
  const t = readTensor(file, name);
  try {
    return toFloat32(t);
  } catch {
    throw new SafetensorsError(typeof file === 'string' ? file : file.path, `dtype ${t.dtype} is not floating point`, name);
  }
}

// ---------------------------------------------------------------------------------------------
// writing

export interface WriteOptions {
  /** Header layout; default SAFETENSORS_STYLE (the official library's). */
  style?: Partial<HeaderStyle>;
  /** fsync the file and its directory (default true). */
  fsync?: boolean;
}

function checkInput(name: string, t: TensorInput): Uint8Array {
  if (!isDtype(t.dtype)) throw new Error(`writeSafetensors: tensor "${name}": unknown dtype "${String(t.dtype)}"`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new Error(`writeSafetensors: tensor "${name}": invalid shape [${t.shape.join(', ')}]`);
  const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (bytes.length !== expected)
    throw new Error(
      `writeSafetensors: tensor "${name}": data has ${bytes.length} bytes, shape [${t.shape.join(', ')}] x ${t.dtype} needs ${expected}`,
    );
  if (name === '__metadata__') throw new Error('writeSafetensors: "__metadata__" is reserved');
  return bytes;
}

export interface SerializedSafetensors {
  /** 8-byte length prefix + header JSON (+ padding). */
  head: Uint8Array;
  /** Tensor data chunks in file order. */
  chunks: Uint8Array[];
  /** Names in file order. */
  order: string[];
  totalBytes: number;
}

/** Builds the header and the list of data chunks without copying the data. */
export function serializeSafetensors(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string> | null,
  style: Partial<HeaderStyle> = {},
): SerializedSafetensors {
  const st: HeaderStyle = { ...SAFETENSORS_STYLE, ...style };
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const withBytes = list.map(([name, t]) => ({ name, t, bytes: checkInput(name, t) }));
  let ordered = withBytes;
  if (st.order === 'safetensors') {
    const order = safetensorsOrder(withBytes.map((x) => ({ name: x.name, dtype: x.t.dtype })));
    const byName = new Map(withBytes.map((x) => [x.name, x]));
    ordered = order.map((n) => byName.get(n)!);
  }
  let off = 0;
  const entries = ordered.map(({ name, t, bytes }) => {
    const e = { name, dtype: t.dtype, shape: t.shape, begin: off, end: off + bytes.length };
    off += bytes.length;
    return e;
  });
  const headerJson = encodeHeader(entries, metadata ?? null, st);
  const head = new Uint8Array(8 + headerJson.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerJson.length), true);
  head.set(headerJson, 8);
  return {
    head,
    chunks: ordered.map((x) => x.bytes),
    order: ordered.map((x) => x.name),
    totalBytes: head.length + off,
  };
}

/** The whole file in memory (for small files and tests). */
export function safetensorsToBytes(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string> | null,
  style?: Partial<HeaderStyle>,
): Uint8Array {
  const s = serializeSafetensors(tensors, metadata, style);
  const out = new Uint8Array(s.totalBytes);
  out.set(s.head, 0);
  let off = s.head.length;
  for (const c of s.chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Writes a safetensors file atomically: a temporary file in the same directory, fsync, rename.
 * A failure (full disk, crash) leaves either the old file or none, never half a file.
 */
export function writeSafetensors(
  file: string,
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string> | null,
  options: WriteOptions = {},
): void {
  const s = serializeSafetensors(tensors, metadata, options.style);
  writeFileAtomic(file, [s.head, ...s.chunks], options.fsync ?? true);
}

/**
 * Rewrites a file's tensors with the same layout as the source (when the source's header style is
 * recognised), e.g. to check byte-identical round trips or to replace some tensors in place.
 */
export function rewriteSafetensors(source: string, target: string, replace: Record<string, TensorInput> = {}): void {
  const h = readSafetensorsHeader(source);
  const all = readTensors(h);
  const merged = new Map<string, TensorInput>();
  for (const [n, t] of all) merged.set(n, replace[n] ?? t);
  for (const [n, t] of Object.entries(replace)) if (!merged.has(n)) merged.set(n, t);
  writeSafetensors(target, merged, h.metadata, { style: h.style ?? SAFETENSORS_STYLE });
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export interface StreamTensorSpec {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
}

/**
 * Writes a safetensors file whose tensors are produced one at a time (`produce(name)` is called in
 * file order), so converting a multi-GB model never holds more than one tensor in memory. Atomic.
 */
export function writeSafetensorsStreaming(
  file: string,
  specs: readonly StreamTensorSpec[],
  produce: (name: string) => ArrayBufferView,
  metadata?: Record<string, string> | null,
  options: WriteOptions = {},
): void {
  const st: HeaderStyle = { ...SAFETENSORS_STYLE, ...options.style };
  let ordered = [...specs];
  if (st.order === 'safetensors') {
    const byName = new Map(specs.map((s) => [s.name, s]));
    ordered = safetensorsOrder(specs).map((n) => byName.get(n)!);
  }
  let off = 0;
  const entries = ordered.map((s) => {
    if (!isDtype(s.dtype)) throw new Error(`writeSafetensors: tensor "${s.name}": unknown dtype "${String(s.dtype)}"`);
    const len = numel(s.shape) * DTYPE_SIZE[s.dtype];
    const e = { name: s.name, dtype: s.dtype, shape: s.shape, begin: off, end: off + len };
    off += len;
    return e;
  });
  const headerJson = encodeHeader(entries, metadata ?? null, st);
  const head = new Uint8Array(8 + headerJson.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerJson.length), true);
  head.set(headerJson, 8);
  const specByName = new Map(ordered.map((s) => [s.name, s]));
  function* chunks(): Generator<Uint8Array> {
    yield head;
    for (const e of entries) {
      const bytes = checkInput(e.name, { ...specByName.get(e.name)!, data: produce(e.name) });
      yield bytes;
    }
  }
  writeFileAtomic(file, chunks(), options.fsync ?? true);
}

// Callers that write tensors import the atomic writer from here too.
export { writeFileAtomic };
