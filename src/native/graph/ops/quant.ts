/**
 * Weight-only int8: blockwise symmetric quantization of a frozen weight and ONNX Runtime's
 * `com.microsoft.MatMulNBits` (bits = 8) that multiplies by it.
 *
 * Format (the op's contract, probed on onnxruntime-node 1.30's CPU EP): a weight used as
 * y = x @ Wᵀ with W logical [N, K] is stored as `b` uint8 [N, kBlocks, blockSize] (row n, its K
 * values in blocks of `blockSize`, the last block padded with the zero point) and `scales` float32
 * [N * kBlocks]; with no zero-point input the op's zero point is 128, so w = (q - 128) * scale.
 * Here scale = max |w| over the block / 127 and q = round(w / scale) + 128 (q in 1..255): the
 * quantization error of each element is at most scale / 2 = max|w| / 254 of its block.
 *
 * `accuracyLevel` 4 lets the kernel quantize the activations to int8 per block too and use integer
 * dot products: measured on a 2-core EPYC, 8 x [100, 2560] @ [2560, 10240] took 0.15 s against
 * 0.4 s in float32 and 1.6-2.4 s at level 0 (float32 compute, which for 8 bits dequantizes the whole
 * weight on every call). Level 4 needs the weight prepacked (session.disable_prepacking makes it as
 * slow as level 0); level 0 computes exactly with the dequantized weight (used by the gradient test).
 */
import { defineOp, type EmitCtx } from '../op';
import { attr } from '../onnx/proto';
import { fmtShape, ShapeError, dimEq } from '../shape';
import type { Tensor } from '../tensor';

/** The block size the engine quantizes with (MatMulNBits: a power of two >= 16). */
export const INT8_BLOCK_SIZE = 32;
/**
 * The block size for weights whose rows and columns are both at least `INT8_WIDE_FROM` long (the
 * 2.7B text encoder's, 2560 wide): MatMulNBits' int8 kernel scales and accumulates once per block,
 * and on a 2-core EPYC (avx512_vnni) [512, 2560] @ [2560, 7680] took 72.6 ms in blocks of 32,
 * 48.3 ms in blocks of 128 and 99.3 ms in float32. Narrower models keep blocks of 32, whose error
 * the reference checkpoints state (docs/engine.md#int8-weights).
 */
export const INT8_WIDE_BLOCK_SIZE = 128;
export const INT8_WIDE_FROM = 1024;

/** The block size of a weight W [n, k] (one for its quantization along k and its transpose's along n). */
export function int8BlockSize(n: number, k: number): number {
  return Math.min(n, k) >= INT8_WIDE_FROM ? INT8_WIDE_BLOCK_SIZE : INT8_BLOCK_SIZE;
}

/** The block-size rule in one string, for cache identities: a change of it changes every int8 key. */
export const INT8_BLOCK_RULE = `${INT8_BLOCK_SIZE}; ${INT8_WIDE_BLOCK_SIZE} from ${INT8_WIDE_FROM}`;
/** MatMulNBits' accuracy_level the engine emits: int8 compute (see the module notes). */
export const INT8_ACCURACY_LEVEL = 4;

export interface Int8Blocks {
  /** uint8 [rows, kBlocks, blockSize]. */
  q: Uint8Array;
  /** float32 [rows * kBlocks]. */
  scales: Float32Array;
  rows: number;
  cols: number;
  blockSize: number;
}

/**
 * Quantizes `w` [rows, cols] (row-major) in blocks of `blockSize` along each row. A pure function
 * of the values: the same weights give the same bytes.
 */
export function quantizeInt8(w: Float32Array, rows: number, cols: number, blockSize = INT8_BLOCK_SIZE): Int8Blocks {
  if (w.length !== rows * cols) throw new Error(`quantizeInt8: ${w.length} values for [${rows}, ${cols}]`);
  if (!(blockSize >= 16 && (blockSize & (blockSize - 1)) === 0))
    throw new Error(`quantizeInt8: block size ${blockSize} is not a power of two >= 16`);
  const kb = Math.ceil(cols / blockSize);
  const stride = kb * blockSize;
  const q = new Uint8Array(rows * stride).fill(128);
  const scales = new Float32Array(rows * kb);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let b = 0; b < kb; b++) {
      const start = b * blockSize;
      const end = Math.min(cols, start + blockSize);
      let max = 0;
      for (let c = start; c < end; c++) {
        const a = Math.abs(w[row + c]!);
        if (a > max || a !== a) max = a; // NaN sticks: caught below
        if (max !== max) break;
      }
      if (!Number.isFinite(max)) throw nonFinite(r, start, end);
      if (max === 0) continue; // scale 0, every q the zero point
      const scale = Math.fround(max / 127);
      scales[r * kb + b] = scale;
      const inv = 1 / scale;
      const out = r * stride;
      // round(w / scale) + 128 as floor(w / scale + 128.5): |w / scale| <= 127 (+ rounding), so the
      // result is 1..255 without clamping (one add and a truncation per element)
      for (let c = start; c < end; c++) q[out + c] = (w[row + c]! * inv + 128.5) | 0;
    }
  }
  return { q, scales, rows, cols, blockSize };
}

function nonFinite(row: number, start: number, end: number): Error {
  return new Error(`quantizeInt8: non-finite value in row ${row}, columns ${start}..${end - 1}`);
}

/** A stored 2-D weight for `quantizeStored`: float32 values, or bf16 bits (float32 = bits << 16, exact). */
export type StoredWeight = { f32: Float32Array } | { bf16: Uint16Array };

/**
 * Where `quantizeStored` puts one quantization: 'rows' quantizes the stored matrix [rows, cols]
 * itself (blocks along each stored row), 'cols' its transpose [cols, rows] (blocks down each stored
 * column). `q` and `scales` have exactly the sizes of the `Int8Blocks` it stands for; every byte of
 * them is written (buffers can be reused).
 */
export interface QuantTarget {
  along: 'rows' | 'cols';
  q: Uint8Array;
  scales: Float32Array;
}

/** Stored columns per tile in the 'cols' kernel: a tile's 32 rows of float32 and its q bytes stay in L2. */
const COL_TILE = 512;

/**
 * `quantizeInt8` of a stored weight or of its transpose, straight from the stored layout (and from
 * bf16 bits), for each target: the same bytes as quantizeInt8(w) ('rows') and
 * quantizeInt8(transposeF32(w)) ('cols') (tested), without a float32 copy of the weight or of its
 * transpose. It goes through the matrix once in strips of `blockSize` stored rows (one bf16 -> f32
 * conversion per strip, in L2); block maxima compare the absolute values' bits as integers (for
 * IEEE floats the same order as the values, and every NaN/Inf is >= 0x7f800000, so the hot loops
 * have no NaN branch). A non-finite value is reported as quantizeInt8 would for the first target.
 */
export function quantizeStored(
  src: StoredWeight,
  rows: number,
  cols: number,
  targets: readonly QuantTarget[],
  blockSize = INT8_BLOCK_SIZE,
): void {
  const f32 = 'f32' in src ? src.f32 : null;
  const bits = 'bf16' in src ? src.bf16 : null;
  if ((f32 ?? bits)!.length !== rows * cols) throw new Error(`quantizeStored: ${(f32 ?? bits)!.length} values for [${rows}, ${cols}]`);
  if (!(blockSize >= 16 && (blockSize & (blockSize - 1)) === 0))
    throw new Error(`quantizeInt8: block size ${blockSize} is not a power of two >= 16`);
  for (const t of targets) {
    const [n, k] = t.along === 'rows' ? [rows, cols] : [cols, rows];
    const kb = Math.ceil(k / blockSize);
    if (t.q.length !== n * kb * blockSize || t.scales.length !== n * kb)
      throw new Error(`quantizeStored: buffers of ${t.q.length} / ${t.scales.length} for [${n}, ${k}] in blocks of ${blockSize}`);
    // the last block's padding holds the zero point
    if (k % blockSize) for (let r = 0; r < n; r++) t.q.fill(128, r * kb * blockSize + k, (r + 1) * kb * blockSize);
  }
  const strip = bits ? new Float32Array(blockSize * cols) : null;
  const scratch = { colMax: new Int32Array(COL_TILE), inv: new Float64Array(COL_TILE) };
  try {
    for (let r0 = 0; r0 < rows; r0 += blockSize) {
      const r1 = Math.min(rows, r0 + blockSize);
      // bf16: each kernel converts the strip into `strip` in its pass for the block maxima
      const f = strip ?? f32!.subarray(r0 * cols, r1 * cols);
      const u = new Uint32Array(f.buffer, f.byteOffset, (r1 - r0) * cols);
      const from = bits ? { bits, at: r0 * cols } : null;
      for (const t of targets)
        if (t.along === 'rows') quantizeRows(f, u, from, r0, r1, cols, t, blockSize);
        else quantizeCols(f, u, from, r0, r1, rows, cols, t, blockSize, scratch);
    }
  } catch (e) {
    if (e !== NON_FINITE) throw e;
    throw firstNonFinite(src, rows, cols, targets[0]!.along, blockSize);
  }
}

/** Thrown inside the kernels; `quantizeStored` then names the value quantizeInt8 would have named. */
const NON_FINITE = new Error('non-finite');
/** bf16 bits of a strip (from index `at`): the kernels convert them into the strip's float32 as they go. */
interface BitsSource {
  bits: Uint16Array;
  at: number;
}
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const bitsU = new Uint32Array(1);
const bitsF = new Float32Array(bitsU.buffer);

/** Stored rows [r0, r1) (values `f`, their bits `u`, from index 0) quantized along each row. */
function quantizeRows(
  f: Float32Array,
  u: Uint32Array,
  from: BitsSource | null,
  r0: number,
  r1: number,
  cols: number,
  t: QuantTarget,
  block: number,
): void {
  const kb = Math.ceil(cols / block);
  const stride = kb * block;
  const { q, scales } = t;
  for (let r = r0; r < r1; r++) {
    const row = (r - r0) * cols;
    const out = r * stride;
    for (let b = 0; b < kb; b++) {
      const start = row + b * block;
      const end = row + Math.min(cols, b * block + block);
      let m = 0;
      if (from) {
        const { bits, at } = from;
        for (let i = start; i < end; i++) {
          const x = bits[at + i]!;
          u[i] = x << 16;
          const a = x & 0x7fff;
          if (a > m) m = a;
        }
        m <<= 16;
      } else
        for (let i = start; i < end; i++) {
          const a = u[i]! & 0x7fffffff;
          if (a > m) m = a;
        }
      if (m >= 0x7f800000) throw NON_FINITE;
      bitsU[0] = m;
      const max = bitsF[0]!;
      const scale = Math.fround(max / 127);
      scales[r * kb + b] = scale;
      // an all-zero block: scale 0 and every q 128, as quantizeInt8 leaves it (w * 0 + 128.5 -> 128)
      const inv = m === 0 ? 0 : 1 / scale;
      const o = out + b * block - start;
      for (let i = start; i < end; i++) q[o + i] = (f[i]! * inv + 128.5) | 0;
    }
  }
}

/** Stored rows [r0, r1) (one block, r0 % block = 0) quantized as columns r0..r1-1 of the transpose. */
function quantizeCols(
  f: Float32Array,
  u: Uint32Array,
  from: BitsSource | null,
  r0: number,
  r1: number,
  rows: number,
  cols: number,
  t: QuantTarget,
  block: number,
  s: { colMax: Int32Array; inv: Float64Array },
): void {
  const kb = Math.ceil(rows / block);
  const stride = kb * block;
  const b = r0 / block;
  const { q, scales } = t;
  const { colMax, inv } = s;
  const q32 = LITTLE_ENDIAN && q.byteOffset % 4 === 0 ? new Uint32Array(q.buffer, q.byteOffset, q.length >> 2) : null;
  for (let n0 = 0; n0 < cols; n0 += COL_TILE) {
    const w = Math.min(cols, n0 + COL_TILE) - n0;
    colMax.fill(0);
    // four stored rows per pass over the tile: a quarter of the loads and stores of colMax
    const nr = r1 - r0;
    if (from) {
      const { bits, at } = from;
      for (let i = 0; i < nr; i += 4) {
        const base = i * cols + n0;
        const h = Math.min(4, nr - i);
        if (h === 4)
          for (let j = 0, o = base; j < w; j++, o++) {
            const x0 = bits[at + o]!;
            const x1 = bits[at + o + cols]!;
            const x2 = bits[at + o + 2 * cols]!;
            const x3 = bits[at + o + 3 * cols]!;
            u[o] = x0 << 16;
            u[o + cols] = x1 << 16;
            u[o + 2 * cols] = x2 << 16;
            u[o + 3 * cols] = x3 << 16;
            const a = Math.max(x0 & 0x7fff, x1 & 0x7fff, x2 & 0x7fff, x3 & 0x7fff);
            if (a > colMax[j]!) colMax[j] = a;
          }
        else
          for (let j = 0; j < w; j++) {
            let m = colMax[j]!;
            for (let k = 0, o = base + j; k < h; k++, o += cols) {
              const x = bits[at + o]!;
              u[o] = x << 16;
              const a = x & 0x7fff;
              if (a > m) m = a;
            }
            colMax[j] = m;
          }
      }
    } else
      for (let i = 0; i < nr; i += 4) {
        const base = i * cols + n0;
        const h = Math.min(4, nr - i);
        if (h === 4)
          for (let j = 0, o = base; j < w; j++, o++) {
            const a = Math.max(u[o]! & 0x7fffffff, u[o + cols]! & 0x7fffffff, u[o + 2 * cols]! & 0x7fffffff, u[o + 3 * cols]! & 0x7fffffff);
            if (a > colMax[j]!) colMax[j] = a;
          }
        else
          for (let j = 0; j < w; j++) {
            let m = colMax[j]!;
            for (let k = 0, o = base + j; k < h; k++, o += cols) {
              const a = u[o]! & 0x7fffffff;
              if (a > m) m = a;
            }
            colMax[j] = m;
          }
      }
    const shift = from ? 16 : 0; // bf16 maxima are the high half of float32 bits
    for (let j = 0; j < w; j++) {
      const m = colMax[j]! << shift;
      if (m >= 0x7f800000) throw NON_FINITE;
      bitsU[0] = m;
      const scale = Math.fround(bitsF[0]! / 127);
      scales[(n0 + j) * kb + b] = scale;
      inv[j] = m === 0 ? 0 : 1 / scale;
    }
    if (q32 && r1 - r0 === block) {
      // a whole block: each transposed row's `block` bytes, four to a 32-bit store (little-endian)
      for (let j = 0; j < w; j++) {
        const v = inv[j]!;
        let o = ((n0 + j) * stride + r0) >> 2;
        for (let i = n0 + j; i < block * cols; i += 4 * cols, o++)
          q32[o] =
            ((f[i]! * v + 128.5) & 0xff) |
            (((f[i + cols]! * v + 128.5) & 0xff) << 8) |
            (((f[i + 2 * cols]! * v + 128.5) & 0xff) << 16) |
            (((f[i + 3 * cols]! * v + 128.5) & 0xff) << 24);
      }
    } else
      for (let i = 0; i < r1 - r0; i++) {
        const base = i * cols + n0;
        let o = n0 * stride + r0 + i;
        for (let j = 0; j < w; j++, o += stride) q[o] = (f[base + j]! * inv[j]! + 128.5) | 0;
      }
  }
}

/** The error quantizeInt8 gives for the first non-finite block of the quantized matrix (row-major). */
function firstNonFinite(src: StoredWeight, rows: number, cols: number, along: 'rows' | 'cols', block: number): Error {
  const bad = (r: number, c: number) =>
    'f32' in src ? !Number.isFinite(src.f32[r * cols + c]!) : (src.bf16[r * cols + c]! & 0x7f80) === 0x7f80;
  const [n, k] = along === 'rows' ? [rows, cols] : [cols, rows];
  for (let i = 0; i < n; i++)
    for (let c = 0; c < k; c++)
      if (along === 'rows' ? bad(i, c) : bad(c, i)) {
        const start = c - (c % block);
        return nonFinite(i, start, Math.min(k, start + block));
      }
  return new Error('quantizeStored: non-finite value not found again'); // unreachable
}

/** The float32 values an `Int8Blocks` stands for, [rows, cols] (tests, error figures). */
export function dequantizeInt8(x: Int8Blocks): Float32Array {
  const kb = Math.ceil(x.cols / x.blockSize);
  const stride = kb * x.blockSize;
  const out = new Float32Array(x.rows * x.cols);
  for (let r = 0; r < x.rows; r++)
    for (let c = 0; c < x.cols; c++) out[r * x.cols + c] = (x.q[r * stride + c]! - 128) * x.scales[r * kb + Math.floor(c / x.blockSize)]!;
  return out;
}

/** [rows, cols] -> [cols, rows], in tiles (a 100 MB weight transposes in a fraction of a second). */
export function transposeF32(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T)
    for (let c0 = 0; c0 < cols; c0 += T) {
      const r1 = Math.min(rows, r0 + T);
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = w[r * cols + c]!;
    }
  return out;
}

/**
 * A quantized frozen weight in a graph: y = x @ Wᵀ for W [n, k]. `backward` is Wᵀ [k, n] quantized
 * the same way (blocks along n), for the gradient with respect to x (dx = g @ W) in graphs that
 * differentiate through the weight; without it such a graph cannot be built.
 */
export interface Int8Weight {
  /** uint8 [n, ceil(k / blockSize), blockSize] */
  q: Tensor;
  /** float32 [n * ceil(k / blockSize)] */
  scales: Tensor;
  n: number;
  k: number;
  blockSize: number;
  backward?: Int8Weight;
}

interface MatMulInt8Attrs {
  weight: Int8Weight;
  accuracyLevel: number;
}

/**
 * x [..., k] float32 -> [..., n]. Gradient with respect to x only (the weight is frozen): a
 * MatMulNBits with the transposed quantized weight, so a training graph never holds a float32 copy.
 * It is the gradient of x @ dequant(W) up to the quantization of Wᵀ along the other axis (tested
 * against finite differences and the float path).
 */
export const MatMulInt8 = defineOp<MatMulInt8Attrs>({
  name: 'MatMulInt8',
  infer: ([x, q, s], { weight: w }) => {
    const kb = Math.ceil(w.k / w.blockSize);
    if (x!.dtype !== 'float32') throw new ShapeError(`MatMulInt8: x must be float32, got ${x!.dtype}`);
    if (x!.shape.length < 2 || !dimEq(x!.shape.at(-1)!, w.k))
      throw new ShapeError(`MatMulInt8: x ${fmtShape(x!.shape)} must end in k = ${w.k} (weight [${w.n}, ${w.k}])`);
    if (q!.dtype !== 'uint8' || q!.shape.join() !== [w.n, kb, w.blockSize].join())
      throw new ShapeError(
        `MatMulInt8: quantized weight must be uint8 [${w.n}, ${kb}, ${w.blockSize}], got ${q!.dtype}${fmtShape(q!.shape)}`,
      );
    if (s!.dtype !== 'float32' || s!.shape.join() !== String(w.n * kb))
      throw new ShapeError(`MatMulInt8: scales must be float32 [${w.n * kb}], got ${s!.dtype}${fmtShape(s!.shape)}`);
    return [{ dtype: 'float32', shape: [...x!.shape.slice(0, -1), w.n] }];
  },
  emit: (e: EmitCtx, a) =>
    e.node(
      'MatMulNBits',
      a.inputs,
      a.outputs,
      {
        K: attr.int(a.attrs.weight.k),
        N: attr.int(a.attrs.weight.n),
        bits: attr.int(8),
        block_size: attr.int(a.attrs.weight.blockSize),
        accuracy_level: attr.int(a.attrs.accuracyLevel),
      },
      'com.microsoft',
    ),
  grad: ({ grads: [g], needs, attrs }) => {
    if (!needs[0]) return [null, null, null];
    const back = attrs.weight.backward;
    if (!back)
      throw new Error(
        `MatMulInt8: the gradient through an int8 weight [${attrs.weight.n}, ${attrs.weight.k}] needs its transposed quantization (bind the weights with backward: true)`,
      );
    return [matmulInt8(g!, back, attrs.accuracyLevel), null, null];
  },
});

/** x @ Wᵀ with W quantized (`Int8Weight`); `accuracyLevel` as MatMulNBits' (default 4, int8 compute). */
export function matmulInt8(x: Tensor, w: Int8Weight, accuracyLevel = INT8_ACCURACY_LEVEL): Tensor {
  return x.graph.apply(MatMulInt8, [x, w.q, w.scales], { weight: w, accuracyLevel })[0]!;
}
