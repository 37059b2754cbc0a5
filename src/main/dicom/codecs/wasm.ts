// Lazy, once-only loading of the Emscripten codec modules. Loading a module compiles its WASM
// (tens of ms), so it happens on first use and the promise is shared by every later caller.
import { createRequire } from 'node:module';
import type { CodecOutput } from './types';

const require = createRequire(import.meta.url);

/** An Emscripten embind object: must be deleted to free its WASM heap. */
export interface EmbindObject {
  delete(): void;
}

export interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

export interface WasmDecoder extends EmbindObject {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  readHeader?(): void;
  decodeSubResolution?(level: number, layer: number): void;
  calculateSizeAtDecompositionLevel?(level: number): { width: number; height: number };
  getNumDecompositions?(): number;
  getInterleaveMode?(): number;
  getNearLossless?(): number;
  getIsReversible?(): boolean;
  getColorSpace?(): number;
}

export interface WasmEncoder extends EmbindObject {
  getDecodedBuffer(info: FrameInfo & { isUsingColorTransform?: boolean; isSigned?: boolean }): Uint8Array;
  getEncodedBuffer(): Uint8Array;
  encode(): void;
  setQuality?(lossless: boolean, quality: number): void;
  setDecompositions?(n: number): void;
  setNearLossless?(n: number): void;
  setInterleaveMode?(n: number): void;
  setProgressionOrder?(n: number): void;
  setCompressionRatio?(layer: number, ratio: number): void;
}

export interface CodecModule {
  J2KDecoder?: new () => WasmDecoder;
  J2KEncoder?: new () => WasmEncoder;
  HTJ2KDecoder?: new () => WasmDecoder;
  HTJ2KEncoder?: new () => WasmEncoder;
  JpegLSDecoder?: new () => WasmDecoder;
  JpegLSEncoder?: new () => WasmEncoder;
  JPEGDecoder?: new () => WasmDecoder;
  JPEGEncoder?: new () => WasmEncoder;
}

// Decode-only builds are smaller and faster to instantiate; encoders (phantoms) use the full ones.
const MODULES = {
  openjpeg: '@cornerstonejs/codec-openjpeg/decodewasmjs',
  openjpegFull: '@cornerstonejs/codec-openjpeg/wasmjs',
  charls: '@cornerstonejs/codec-charls/decodewasmjs',
  charlsFull: '@cornerstonejs/codec-charls/wasmjs',
  libjpeg: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs',
  libjpegFull: '@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs',
  openjph: '@cornerstonejs/codec-openjph/wasmjs',
} as const;

export type CodecName = keyof typeof MODULES;

const cache = new Map<CodecName, Promise<CodecModule>>();

export function loadCodec(name: CodecName): Promise<CodecModule> {
  let p = cache.get(name);
  if (!p) {
    const factory = require(MODULES[name]) as (arg?: object) => Promise<CodecModule>;
    p = factory({
      // Emscripten prints codec warnings on stdout/stderr; keep the CLI's JSON output clean.
      print: () => {},
      printErr: () => {},
    });
    cache.set(name, p);
    p.catch(() => cache.delete(name));
  }
  return p;
}

/** Copies the bytes into the decoder's heap, runs `fn`, and always frees the decoder. */
export function withDecoder<T>(Ctor: new () => WasmDecoder, bytes: Uint8Array, fn: (d: WasmDecoder) => T): T {
  const d = new Ctor();
  try {
    d.getEncodedBuffer(bytes.length).set(bytes);
    return fn(d);
  } finally {
    d.delete();
  }
}

/** Copies `n` samples of the given width out of the WASM heap (the heap view dies with the decoder). */
export function copySamples(
  buf: Uint8Array,
  bytesPerSample: number,
  signed: boolean,
  n: number,
): Uint8Array | Int8Array | Uint16Array | Int16Array {
  const need = n * bytesPerSample;
  if (buf.length < need) throw new Error(`codec produced ${buf.length} bytes, expected ${need}`);
  const copy = buf.slice(0, need);
  if (bytesPerSample === 1) return signed ? new Int8Array(copy.buffer) : copy;
  return signed ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
}

/**
 * A view of `n` samples in the WASM heap, valid until the decoder is deleted (or the heap grows):
 * for consumers that read the samples once, inside the decoder's lifetime, with no copy.
 */
export function viewSamples(
  buf: Uint8Array,
  bytesPerSample: number,
  signed: boolean,
  n: number,
): Uint8Array | Int8Array | Uint16Array | Int16Array {
  const need = n * bytesPerSample;
  if (buf.length < need) throw new Error(`codec produced ${buf.length} bytes, expected ${need}`);
  if (bytesPerSample === 1) return signed ? new Int8Array(buf.buffer, buf.byteOffset, n) : new Uint8Array(buf.buffer, buf.byteOffset, n);
  if (buf.byteOffset % 2) return copySamples(buf, bytesPerSample, signed, n);
  return signed ? new Int16Array(buf.buffer, buf.byteOffset, n) : new Uint16Array(buf.buffer, buf.byteOffset, n);
}

/** Copies a codec output whose samples are a heap view into JS memory. */
export function detach(out: CodecOutput): CodecOutput {
  return { ...out, data: out.data.slice() };
}

/**
 * Runs `use` on a heap-view output; its own errors pass through untouched (they are not codec
 * failures), which `isUseError` tells the codec's error handler.
 */
export function runUse<T>(out: CodecOutput, use: (out: CodecOutput) => T, marks: WeakSet<object>): T {
  try {
    return use(out);
  } catch (err) {
    if (err && typeof err === 'object') marks.add(err);
    throw err;
  }
}

/**
 * After a WASM abort (a corrupt stream can trigger one) an Emscripten module is unusable; forget
 * it so the next call instantiates a fresh one instead of failing forever.
 */
export function resetCodec(name: CodecName): void {
  cache.delete(name);
}
