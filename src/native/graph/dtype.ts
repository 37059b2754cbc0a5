/**
 * Element types the IR knows, their ONNX TensorProto.DataType codes and byte sizes.
 * float64 exists mainly so gradient rules can be checked by finite differences with tight tolerances.
 */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';

export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  int32: 4,
  int64: 8,
  uint8: 1,
  bool: 1,
  float16: 2,
  float64: 8,
  bfloat16: 2,
};

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'float64';
}

/** Round-to-nearest-even float32 -> IEEE half bits. Used for float16 constants built from JS numbers. */
export function float32ToFloat16Bits(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000; // subnormal half: shift the implicit bit in
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into exponent: still correct
  return sign | half;
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Round-to-nearest-even float32 -> bfloat16 bits (the upper half of the float32); NaN stays NaN. */
export function float32ToBfloat16Bits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x0040;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Encode JS numbers as little-endian bytes of the given dtype (constants, initializers). */
export function encodeValues(dtype: DType, values: ArrayLike<number | bigint | boolean>): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (dtype) {
      case 'float32':
        view.setFloat32(i * 4, Number(v), true);
        break;
      case 'float64':
        view.setFloat64(i * 8, Number(v), true);
        break;
      case 'float16':
        view.setUint16(i * 2, float32ToFloat16Bits(Number(v)), true);
        break;
      case 'bfloat16':
        view.setUint16(i * 2, float32ToBfloat16Bits(Number(v)), true);
        break;
      case 'int64':
        view.setBigInt64(i * 8, typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))), true);
        break;
      case 'int32':
        view.setInt32(i * 4, Number(v), true);
        break;
      case 'uint8':
        view.setUint8(i, Number(v));
        break;
      case 'bool':
        view.setUint8(i, v ? 1 : 0);
        break;
    }
  }
  return out;
}
