// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15 segment offsets, each segment
// a PackBits stream of one byte plane (most significant byte first) of one sample.
import type { CodecOutput } from './types';

export interface RleGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

/**
 * PackBits-decodes src[start, end) into `npix` bytes written at out[base + k * stride]: straight
 * into the byte lanes of the (little-endian) sample array, so there is no plane buffer and no
 * second interleaving pass.
 */
function unpackBitsStrided(src: Uint8Array, start: number, end: number, out: Uint8Array, base: number, stride: number, npix: number): void {
  let i = start;
  let o = 0;
  let q = base;
  while (i < end && o < npix) {
    const h = src[i++]!;
    if (h < 128) {
      // literal run of h+1 bytes
      let len = h + 1;
      if (len > npix - o) len = npix - o;
      if (len > end - i) len = end - i;
      if (stride === 1) {
        for (let k = 0; k < len; k++) out[q + k] = src[i + k]!;
        q += len;
      } else {
        for (let k = 0; k < len; k++, q += stride) out[q] = src[i + k]!;
      }
      i += h + 1;
      o += len;
    } else if (h > 128) {
      // replicate the next byte 257-h times
      if (i >= end) break;
      const v = src[i++]!;
      let len = 257 - h;
      if (len > npix - o) len = npix - o;
      if (stride === 1) {
        for (let k = 0; k < len; k++) out[q + k] = v;
        q += len;
      } else {
        for (let k = 0; k < len; k++, q += stride) out[q] = v;
      }
      o += len;
    }
    // h === 128 is a no-op
  }
  if (o < npix) throw new Error(`RLE segment short: ${o} of ${npix} bytes`);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type RleSamples = Uint8Array | Uint16Array | Uint32Array;

/**
 * Decodes one RLE frame to pixel-interleaved samples of bitsAllocated width (unsigned). `into`, when
 * given and large enough, receives the samples (every byte is overwritten), sparing a fresh
 * allocation: the caller's scratch buffer.
 */
export function decodeRle(bytes: Uint8Array, g: RleGeometry, into?: RleSamples): CodecOutput {
  if (bytes.length < 64) throw new Error('RLE header truncated');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nSeg = dv.getUint32(0, true);
  const bytesPerSample = g.bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1 || bytesPerSample > 4 || bytesPerSample === 3)
    throw new Error(`RLE with BitsAllocated ${g.bitsAllocated} is not supported`);
  const expected = bytesPerSample * g.samplesPerPixel;
  if (nSeg !== expected) throw new Error(`RLE has ${nSeg} segments, expected ${expected}`);
  const offsets: number[] = [];
  for (let s = 0; s < nSeg; s++) offsets.push(dv.getUint32(4 + 4 * s, true));
  const npix = g.rows * g.columns;
  const spp = g.samplesPerPixel;
  const total = npix * spp;
  const Ctor = bytesPerSample === 1 ? Uint8Array : bytesPerSample === 2 ? Uint16Array : Uint32Array;
  const data: RleSamples = into instanceof Ctor && into.length >= total ? into.subarray(0, total) : new Ctor(total);
  const lanes = new Uint8Array(data.buffer, data.byteOffset, total * bytesPerSample);
  for (let s = 0; s < nSeg; s++) {
    const start = offsets[s]!;
    const end = s + 1 < nSeg ? offsets[s + 1]! : bytes.length;
    if (start < 64 || start > bytes.length || end < start || end > bytes.length)
      throw new Error(`RLE segment ${s} offset ${start} out of range`);
    // Segment order: sample 0 MSB..LSB, sample 1 MSB..LSB, ...
    const sample = Math.floor(s / bytesPerSample);
    const fromMsb = s % bytesPerSample;
    const byteInSample = LITTLE_ENDIAN ? bytesPerSample - 1 - fromMsb : fromMsb;
    unpackBitsStrided(bytes, start, end, lanes, sample * bytesPerSample + byteInSample, spp * bytesPerSample, npix);
  }
  return { data, width: g.columns, height: g.rows, components: spp, planar: false, rgb: false, reduction: 0 };
}

/** Encodes one byte plane with PackBits as DICOM RLE expects (runs of max 128, even length). */
function packBits(src: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    let run = 1;
    while (i + run < n && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 2) {
      out.push(257 - run, src[i]!);
      i += run;
      continue;
    }
    let lit = 1;
    while (i + lit < n && lit < 128 && !(i + lit + 1 < n && src[i + lit] === src[i + lit + 1])) lit++;
    out.push(lit - 1);
    for (let k = 0; k < lit; k++) out.push(src[i + k]!);
    i += lit;
  }
  if (out.length % 2) out.push(128); // pad to even with a no-op
  return out;
}

/** Encodes one frame of pixel-interleaved unsigned samples (used by the phantom generator). */
export function encodeRle(samples: ArrayLike<number>, g: RleGeometry): Uint8Array {
  const bytesPerSample = g.bitsAllocated / 8;
  const npix = g.rows * g.columns;
  const segments: number[][] = [];
  const plane = new Uint8Array(npix);
  for (let sample = 0; sample < g.samplesPerPixel; sample++) {
    for (let b = bytesPerSample - 1; b >= 0; b--) {
      for (let p = 0; p < npix; p++) plane[p] = (samples[p * g.samplesPerPixel + sample]! >>> (8 * b)) & 0xff;
      segments.push(packBits(plane));
    }
  }
  const total = 64 + segments.reduce((a, s) => a + s.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, segments.length, true);
  let off = 64;
  segments.forEach((s, k) => {
    dv.setUint32(4 + 4 * k, off, true);
    out.set(s, off);
    off += s.length;
  });
  return out;
}
