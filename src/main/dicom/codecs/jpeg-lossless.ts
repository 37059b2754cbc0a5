// JPEG lossless (process 14, any predictor incl. SV1): our decoder (./ljpeg.ts), with
// jpeg-lossless-decoder-js (pure JS) for the stream structures ours does not handle.
import { Decoder } from 'jpeg-lossless-decoder-js';
import { LjpegUnsupported, decodeLjpeg } from './ljpeg';
import type { CodecOptions, CodecOutput } from './types';

export function decodeJpegLossless(bytes: Uint8Array, opts: CodecOptions = {}, into?: Uint16Array | Uint8Array): CodecOutput {
  // Keep 2 bytes per sample when the header says 16-bit storage even if the stream precision is
  // <= 8, so e.g. 8-bit-precision data in a 16-bit dataset keeps its width.
  const wide = Boolean(opts.bitsAllocated && opts.bitsAllocated > 8);
  try {
    return decodeLjpeg(bytes, wide, into);
  } catch (err) {
    if (!(err instanceof LjpegUnsupported)) throw err;
  }
  return decodeWithLibrary(bytes, wide);
}

/** jpeg-lossless-decoder-js: slower (~1.5 s for 3328x4096), kept for the rare structures above. */
export function decodeWithLibrary(bytes: Uint8Array, wide: boolean): CodecOutput {
  // The decoder reads its own copy; slice so a fragment view into the file does not leak the rest.
  // A copy, with zero tail bytes so bit prefetch near the end reads zeros rather than undefined
  // (Buffer#slice would share the whole file's memory).
  const copy = new Uint8Array(bytes.length + 16);
  copy.set(bytes);
  const buf = copy.buffer;
  const dec = new Decoder();
  let out: Uint8Array | Uint16Array;
  try {
    out = dec.decode(buf, 0, buf.byteLength, wide ? 2 : undefined);
  } catch (err) {
    throw new Error(`JPEG lossless decode failed: ${(err as Error).message ?? String(err)}`);
  }
  if (!out || !dec.xDim || !dec.yDim) throw new Error('JPEG lossless decode failed: no frame in stream');
  const components = dec.numComp || 1;
  if (components > 1 && out instanceof Uint16Array) {
    // The decoder only interleaves 8-bit colour correctly; refuse rather than return scrambled data.
    throw new Error(`JPEG lossless with ${components} components above 8 bits is not supported by the decoder`);
  }
  return { data: out, width: dec.xDim, height: dec.yDim, components, planar: false, rgb: false, reduction: 0 };
}
