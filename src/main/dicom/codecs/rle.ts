// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15 segment offsets, each segment
// a PackBits stream of one byte plane (most significant byte first) of one sample.
import type { CodecOutput } from './types';

export interface RleGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): void {
  let i = start;
  let o = 0;
  const n = out.length;
  while (i < end && o < n) {
    const h = src[i++]!;
    if (h < 128) {
      // literal run of h+1 bytes
      const len = Math.min(h + 1, n - o, end - i);
      out.set(src.subarray(i, i + len), o);
      i += h + 1;
      o += len;
    } else if (h > 128) {
      // replicate the next byte 257-h times
      if (i >= end) break;
      const v = src[i++]!;
      const len = Math.min(257 - h, n - o);
      out.fill(v, o, o + len);
      o += len;
    }
    // h === 128 is a no-op
  }
  if (o < n) throw new Error(`RLE segment short: ${o} of ${n} bytes`);
}

/** Decodes one RLE frame to pixel-interleaved samples of bitsAllocated width (unsigned). */
export function decodeRle(bytes: Uint8Array, g: RleGeometry): CodecOutput {
  if (bytes.length < 64) throw new Error('RLE header truncated');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nSeg = dv.getUint32(0, true);
  const bytesPerSample = g.bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1 || bytesPerSample > 4)
    throw new Error(`RLE with BitsAllocated ${g.bitsAllocated} is not supported`);
  const expected = bytesPerSample * g.samplesPerPixel;
  if (nSeg !== expected) throw new Error(`RLE has ${nSeg} segments, expected ${expected}`);
  const offsets: number[] = [];
  for (let s = 0; s < nSeg; s++) offsets.push(dv.getUint32(4 + 4 * s, true));
  const npix = g.rows * g.columns;
  const plane = new Uint8Array(npix);
  const total = npix * g.samplesPerPixel;
  const data = bytesPerSample === 1 ? new Uint8Array(total) : bytesPerSample === 2 ? new Uint16Array(total) : new Uint32Array(total);
  for (let s = 0; s < nSeg; s++) {
    const start = offsets[s]!;
    const end = s + 1 < nSeg ? offsets[s + 1]! : bytes.length;
    if (start < 64 || start > bytes.length || end < start || end > bytes.length)
      throw new Error(`RLE segment ${s} offset ${start} out of range`);
    unpackBits(bytes, start, end, plane);
    // Segment order: sample 0 MSB..LSB, sample 1 MSB..LSB, ...
    const sample = Math.floor(s / bytesPerSample);
    const shift = 8 * (bytesPerSample - 1 - (s % bytesPerSample));
    const spp = g.samplesPerPixel;
    if (bytesPerSample === 1) {
      for (let p = 0; p < npix; p++) data[p * spp + sample] = plane[p]!;
    } else {
      for (let p = 0; p < npix; p++) data[p * spp + sample] = (data[p * spp + sample]! | (plane[p]! << shift)) >>> 0;
    }
  }
  return { data, width: g.columns, height: g.rows, components: g.samplesPerPixel, planar: false, rgb: false, reduction: 0 };
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
