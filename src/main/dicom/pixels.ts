// From raw samples to stored pixel values: native frame extraction (endianness, bit packing,
// planar configuration, 4:2:2), BitsStored/HighBit masking with sign extension by the header's
// PixelRepresentation (which wins over what a codestream claims: encoders that write signed data as
// an unsigned codestream, or the reverse, are common), and YBR to RGB.
import type { CodecOutput, SampleArray } from './codecs/types';

export interface PixelLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
  planarConfiguration: number;
}

export interface DecodedFrame {
  rows: number;
  columns: number;
  samples: number;
  /**
   * Stored values, pixel-interleaved (RGBRGB...). Int32 for integer pixel data, Uint32 for unsigned
   * 32-bit stored values (0xFFFFFFFF would not fit an Int32), Float32 for float.
   */
  data: Int32Array | Uint32Array | Float32Array;
  /** Photometric interpretation of `data`: "RGB" after any YBR conversion, else the header's. */
  photometric: string;
  /** The image was decoded at 1/2^reduction of its full size (JPEG 2000 sub-resolution). */
  reduction: number;
  /** Where the file contradicts itself and which reading was chosen (e.g. the header's colour space). */
  warnings?: string[];
}

/** Bytes one native frame occupies (bit-packed for BitsAllocated 1; 4:2:2 stores 2 samples/pixel). */
export function nativeFrameBits(l: PixelLayout): number {
  const perPixel = l.photometricInterpretation === 'YBR_FULL_422' && l.samplesPerPixel === 3 ? 2 : l.samplesPerPixel;
  return l.rows * l.columns * perPixel * l.bitsAllocated;
}

/**
 * Native YBR_FULL_422 whose Pixel Data holds three full samples per pixel for every frame: written
 * by tools that decompressed a JPEG and kept its Photometric Interpretation. The data is YBR_FULL
 * in fact (GDCM and pydicom read it so too); returns that layout and a warning, else undefined.
 */
export function fullSizeYbr422(
  l: PixelLayout,
  pixelDataBytes: number,
  frames: number,
): { layout: PixelLayout; warning: string } | undefined {
  if (l.photometricInterpretation !== 'YBR_FULL_422' || l.samplesPerPixel !== 3 || l.bitsAllocated < 8) return undefined;
  const full = l.rows * l.columns * 3 * (l.bitsAllocated / 8) * frames;
  if (pixelDataBytes < full) return undefined;
  return {
    layout: { ...l, photometricInterpretation: 'YBR_FULL' },
    warning: `Photometric Interpretation says YBR_FULL_422 but the pixel data holds ${pixelDataBytes} bytes, three full samples per pixel: read as YBR_FULL`,
  };
}

/**
 * Reads one native frame into an interleaved sample array. `bigEndian` applies to 16/32-bit words;
 * `swap8` handles 8-bit samples stored as OW in big endian (bytes swapped within each word).
 */
export function readNativeFrame(bytes: Uint8Array, l: PixelLayout, frame: number, bigEndian: boolean, swap8: boolean): CodecOutput {
  const frameBits = nativeFrameBits(l);
  const n = frameBits / l.bitsAllocated;
  const startBit = frame * frameBits;
  if (Math.ceil((startBit + frameBits) / 8) > bytes.length) {
    throw new Error(`truncated: frame ${frame} needs ${Math.ceil((startBit + frameBits) / 8)} bytes of pixel data, have ${bytes.length}`);
  }
  let data: SampleArray;
  if (l.bitsAllocated === 1) {
    const out = new Uint8Array(n);
    // Bit-packed, least significant bit first, frames may start mid-byte.
    for (let i = 0; i < n; i++) {
      const b = startBit + i;
      out[i] = (bytes[b >> 3]! >> (b & 7)) & 1;
    }
    data = out;
  } else if (l.bitsAllocated === 8) {
    const start = startBit / 8;
    if (swap8) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[start + (i ^ 1)]!;
      data = out;
    } else data = new Uint8Array(bytes.subarray(start, start + n));
  } else if (l.bitsAllocated === 16 || l.bitsAllocated === 32) {
    const start = startBit / 8;
    const bps = l.bitsAllocated / 8;
    const dv = new DataView(bytes.buffer, bytes.byteOffset + start, n * bps);
    if (bps === 2) {
      if (!bigEndian && (bytes.byteOffset + start) % 2 === 0) {
        // A view, not a copy: normalise() copies into its own Int32Array anyway.
        data = new Uint16Array(bytes.buffer, bytes.byteOffset + start, n);
      } else {
        const out = new Uint16Array(n);
        for (let i = 0; i < n; i++) out[i] = dv.getUint16(2 * i, !bigEndian);
        data = out;
      }
    } else {
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getUint32(4 * i, !bigEndian);
      data = out;
    }
  } else {
    throw new Error(`BitsAllocated ${l.bitsAllocated} is not supported`);
  }
  if (l.photometricInterpretation === 'YBR_FULL_422' && l.samplesPerPixel === 3) {
    // Y1 Y2 Cb Cr per pixel pair: give each pixel its own Cb/Cr.
    const full = new Uint32Array(l.rows * l.columns * 3);
    for (let p = 0, s = 0; s + 3 < n; p += 2, s += 4) {
      const cb = data[s + 2]!;
      const cr = data[s + 3]!;
      full[p * 3] = data[s]!;
      full[p * 3 + 1] = cb;
      full[p * 3 + 2] = cr;
      if (p + 1 < l.rows * l.columns) {
        full[p * 3 + 3] = data[s + 1]!;
        full[p * 3 + 4] = cb;
        full[p * 3 + 5] = cr;
      }
    }
    return { data: full, width: l.columns, height: l.rows, components: 3, planar: false, rgb: false, reduction: 0 };
  }
  return {
    data,
    width: l.columns,
    height: l.rows,
    components: l.samplesPerPixel,
    planar: l.samplesPerPixel > 1 && l.planarConfiguration === 1,
    rgb: false,
    reduction: 0,
  };
}

export interface NormaliseOptions {
  /** Native data: honour HighBit (shift the stored bits down). Compressed data has HighBit = BitsStored-1. */
  applyHighBit: boolean;
  /**
   * Clamp to the BitsStored range instead of masking. Right for lossy JPEG 2000 whose codestream
   * signedness matches the header: ringing can overshoot the range, and masking would wrap a
   * slightly-too-bright pixel to black. When signedness differs, masking reinterprets the bits.
   */
  clamp?: boolean;
}

/** Stored value of every raw sample value of an 8/16-bit array (indexed by the raw bits). */
function rawTable(bits: 8 | 16, signed: boolean, f: (v: number) => number): Int32Array {
  const size = 1 << bits;
  const t = new Int32Array(size);
  for (let r = 0; r < size; r++) t[r] = f(signed && r >= size / 2 ? r - size : r);
  return t;
}

function gatherU16(src: Uint16Array, t: Int32Array, dst: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = t[src[i]!]!;
}
function gatherI16(src: Int16Array, t: Int32Array, dst: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = t[src[i]! & 0xffff]!;
}
function gatherU8(src: Uint8Array, t: Int32Array, dst: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = t[src[i]!]!;
}
function gatherI8(src: Int8Array, t: Int32Array, dst: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = t[src[i]! & 0xff]!;
}

/** Masks to BitsStored, sign-extends per PixelRepresentation, interleaves planes, converts YBR. */
/** The per-sample map from a codec's raw sample value to the stored value (masking, sign, clamp). */
export function storedValueOf(l: PixelLayout, opts: NormaliseOptions): (v: number) => number {
  const bitsStored = Math.min(Math.max(l.bitsStored, 1), 32);
  const shift = opts.applyHighBit && l.highBit + 1 >= bitsStored && l.highBit < l.bitsAllocated ? l.highBit + 1 - bitsStored : 0;
  const signed = l.pixelRepresentation === 1;
  const clamp = Boolean(opts.clamp) && bitsStored < 32;
  const lo = signed ? -(2 ** (bitsStored - 1)) : 0;
  const hi = signed ? 2 ** (bitsStored - 1) - 1 : 2 ** bitsStored - 1;
  const mask = 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  const wrap = 2 ** bitsStored;
  return (v: number): number => {
    if (clamp) return v < lo ? lo : v > hi ? hi : v;
    if (bitsStored >= 32) return v | 0;
    let m = (v >>> shift) & mask;
    // `>>> shift` on a negative (signed codec output) is fine: masking keeps the stored bits.
    if (signed && m & signBit) m -= wrap;
    return m;
  };
}

/**
 * 8/16-bit codec samples as unsigned raw bits plus the table from raw bits to stored value, so a
 * consumer can index tables by the raw sample without materialising stored values. Undefined for
 * other sample types.
 */
export function rawBitsAndTable(
  out: CodecOutput,
  l: PixelLayout,
  opts: NormaliseOptions,
): { bits: Uint16Array | Uint8Array; table: Int32Array } | undefined {
  const d = out.data;
  const one = storedValueOf(l, opts);
  if (d instanceof Uint16Array) return { bits: d, table: rawTable(16, false, one) };
  if (d instanceof Int16Array) return { bits: new Uint16Array(d.buffer, d.byteOffset, d.length), table: rawTable(16, true, one) };
  if (d instanceof Uint8Array) return { bits: d, table: rawTable(8, false, one) };
  if (d instanceof Int8Array) return { bits: new Uint8Array(d.buffer, d.byteOffset, d.length), table: rawTable(8, true, one) };
  return undefined;
}

export function normalise(out: CodecOutput, l: PixelLayout, opts: NormaliseOptions): DecodedFrame {
  const n = out.width * out.height * out.components;
  const src = out.data;
  if (src.length < n) throw new Error(`decoder returned ${src.length} samples, expected ${n}`);
  const bitsStored = Math.min(Math.max(l.bitsStored, 1), 32);
  const one = storedValueOf(l, opts);
  // Unsigned 32-bit stored values go past Int32's range: keep them unsigned.
  const u32 = bitsStored >= 32 && l.pixelRepresentation !== 1;
  const dst = u32 ? new Uint32Array(n) : new Int32Array(n);
  // 8- and 16-bit samples (every codec but 32-bit native data): one table lookup per sample,
  // with a loop per array type so each stays monomorphic.
  if (dst instanceof Uint32Array) for (let i = 0; i < n; i++) dst[i] = src[i]! >>> 0;
  else if (src instanceof Uint16Array) gatherU16(src, rawTable(16, false, one), dst, n);
  else if (src instanceof Int16Array) gatherI16(src, rawTable(16, true, one), dst, n);
  else if (src instanceof Uint8Array) gatherU8(src, rawTable(8, false, one), dst, n);
  else if (src instanceof Int8Array) gatherI8(src, rawTable(8, true, one), dst, n);
  else for (let i = 0; i < n; i++) dst[i] = one(src[i]!);
  let data = dst;
  const c = out.components;
  if (out.planar && c > 1) {
    const plane = out.width * out.height;
    const inter = u32 ? new Uint32Array(n) : new Int32Array(n);
    for (let k = 0; k < c; k++) for (let p = 0; p < plane; p++) inter[p * c + k] = dst[k * plane + p]!;
    data = inter;
  }
  let photometric = l.photometricInterpretation;
  if (c === 3) {
    if (out.rgb || photometric === 'YBR_RCT' || photometric === 'YBR_ICT') photometric = 'RGB';
    else if (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422' || photometric === 'YBR_PARTIAL_420') {
      ybrToRgb(data, bitsStored);
      photometric = 'RGB';
    }
  }
  const frame: DecodedFrame = { rows: out.height, columns: out.width, samples: c, data, photometric, reduction: out.reduction };
  if (out.warnings?.length) frame.warnings = [...out.warnings];
  return frame;
}

/** In-place YCbCr (full range, PS3.3 C.7.6.3.1.2) to RGB. */
export function ybrToRgb(d: Int32Array | Uint32Array, bits: number): void {
  const max = 2 ** Math.min(bits, 16) - 1;
  const half = (max + 1) / 2;
  const clamp = (v: number): number => (v < 0 ? 0 : v > max ? max : Math.round(v));
  for (let i = 0; i + 2 < d.length; i += 3) {
    const y = d[i]!;
    const cb = d[i + 1]! - half;
    const cr = d[i + 2]! - half;
    d[i] = clamp(y + 1.402 * cr);
    d[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    d[i + 2] = clamp(y + 1.772 * cb);
  }
}
