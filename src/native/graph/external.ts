/**
 * Frozen weights as ONNX external data pointing straight into a model's .safetensors file.
 *
 * Measured with onnxruntime-node 1.30 (test/unit/native/graph/external.test.ts):
 * - `location` is resolved against the directory of the .onnx file, and the resolved real path must stay
 *   inside that directory: '..' paths, absolute paths and symlinks leading outside are rejected
 *   ("External data path escapes model directory"). Subdirectories and hard links are fine.
 * - A model with external data cannot be created from bytes (ORT needs the model path), so write the
 *   .onnx next to (or above) the .safetensors and create the session from the path.
 * - Offsets need no alignment (ORT copies unaligned tensors); aligned ones are memory-mapped: loading
 *   a 256 MB weight used by Add raised RSS by 0 MB; used by MatMul, prepacking copied it (+256 MB)
 *   unless `session.disable_prepacking=1`.
 * Tensors whose file dtype differs from the wanted one (BF16 -> float32) are converted once into a
 * single side file in the model directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DTYPE_BYTES, type DType } from './dtype.js';
import type { ParamValue } from './graph.js';
import { f32ToF16, readSafetensorsHeader, readTensor, toFloat32, writeFileAtomic, type Dtype as StDtype } from '../formats/safetensors.js';

const SAME: Partial<Record<DType, StDtype>> = { float32: 'F32', float16: 'F16', float64: 'F64', int64: 'I64', int32: 'I32', bool: 'BOOL' };

export interface BindOptions {
  /** The .safetensors file. */
  file: string;
  /** Directory the .onnx will be written to; must contain `file` (directly or in a subfolder). */
  modelDir: string;
  /** safetensors tensor name -> dtype the graph parameter has. */
  tensors: Record<string, DType>;
  /** Side file for converted tensors, relative to modelDir. */
  convertedName?: string;
}

export interface BoundWeights {
  values: Map<string, ParamValue>;
  shapes: Map<string, number[]>;
  /** Path of the converted-weights file, or null when every tensor was used in place. */
  convertedFile: string | null;
}

/** A location ORT will accept for `target` from a model in `modelDir`, or a clear error. */
export function externalLocation(modelDir: string, target: string): string {
  const realDir = fs.realpathSync(modelDir);
  const realTarget = fs.realpathSync(target);
  const rel = path.relative(realDir, realTarget);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(
      `external data '${target}' is outside the model directory '${modelDir}': onnxruntime rejects '..', absolute and ` +
        'escaping-symlink locations. Write the .onnx into the weights folder or hard-link the file into the model directory.',
    );
  }
  return rel.split(path.sep).join('/');
}

export function bindSafetensorsWeights(opts: BindOptions): BoundWeights {
  const header = readSafetensorsHeader(opts.file);
  const location = externalLocation(opts.modelDir, opts.file);
  const values = new Map<string, ParamValue>();
  const shapes = new Map<string, number[]>();
  const chunks: Uint8Array[] = [];
  let convertedBytes = 0;
  const convertedName = opts.convertedName ?? 'converted-weights.bin';
  for (const [name, want] of Object.entries(opts.tensors)) {
    const entry = header.tensors.get(name);
    if (!entry) throw new Error(`${opts.file}: no tensor '${name}'`);
    shapes.set(name, [...entry.shape]);
    if (SAME[want] === entry.dtype) {
      values.set(name, { kind: 'external', location, offset: entry.byteOffset, length: entry.byteLength });
      continue;
    }
    const bytes = convert(readTensor(header, name), want, `${opts.file}:${name}`);
    const pad = (64 - (convertedBytes % 64)) % 64; // keep converted tensors aligned for mmap
    if (pad) chunks.push(new Uint8Array(pad));
    convertedBytes += pad;
    values.set(name, { kind: 'external', location: convertedName, offset: convertedBytes, length: bytes.length });
    chunks.push(bytes);
    convertedBytes += bytes.length;
  }
  let convertedFile: string | null = null;
  if (chunks.length) {
    convertedFile = path.join(opts.modelDir, convertedName);
    writeFileAtomic(convertedFile, chunks);
  }
  return { values, shapes, convertedFile };
}

function convert(t: ReturnType<typeof readTensor>, want: DType, what: string): Uint8Array {
  const f32 = toFloat32(t);
  let out: ArrayBufferView;
  if (want === 'float32') out = f32;
  else if (want === 'float16') out = f32ToF16(f32);
  else if (want === 'float64') out = Float64Array.from(f32);
  else throw new Error(`${what}: cannot convert ${t.dtype} to ${want}`);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  if (bytes.length !== f32.length * DTYPE_BYTES[want]) throw new Error(`${what}: conversion size mismatch`);
  return bytes;
}
