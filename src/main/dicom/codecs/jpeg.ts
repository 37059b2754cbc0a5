// JPEG baseline / extended (DCT) via libjpeg-turbo (WASM, 8-bit samples only). 12-bit extended
// (process 4) streams are detected from the SOF precision and routed to our own decoder.
import type { CodecOptions, CodecOutput } from './types';
import { copySamples, loadCodec, resetCodec, withDecoder } from './wasm';

export interface JpegFrameHeader {
  /** SOF marker (0xC0 baseline, 0xC1 extended, 0xC2 progressive, 0xC3 lossless, ...). */
  sof: number;
  precision: number;
  height: number;
  width: number;
  components: number;
}

/** Reads the SOF segment, walking the marker segments (no entropy decoding). */
export function readJpegFrameHeader(bytes: Uint8Array): JpegFrameHeader | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const m = bytes[i + 1]!;
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    const len = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 10 > bytes.length) return undefined;
      return {
        sof: m,
        precision: bytes[i + 4]!,
        height: (bytes[i + 5]! << 8) | bytes[i + 6]!,
        width: (bytes[i + 7]! << 8) | bytes[i + 8]!,
        components: bytes[i + 9]!,
      };
    }
    if (m === 0xda || m === 0xd9) return undefined;
    i += 2 + len;
  }
  return undefined;
}

export async function decodeJpegDct(bytes: Uint8Array, opts: CodecOptions = {}): Promise<CodecOutput> {
  void opts;
  const sof = readJpegFrameHeader(bytes);
  if (!sof) throw new Error('JPEG decode failed: no SOI/SOF marker');
  if (sof.sof === 0xc3 || sof.sof === 0xc7) {
    // Some writers label lossless streams with a lossy transfer syntax; decode what the stream is.
    const { decodeJpegLossless } = await import('./jpeg-lossless');
    return decodeJpegLossless(bytes, opts);
  }
  if (sof.precision > 8) {
    const { decodeJpeg12 } = await import('./jpeg12');
    return decodeJpeg12(bytes);
  }
  const mod = await loadCodec('libjpeg');
  const Ctor = mod.JPEGDecoder;
  if (!Ctor) throw new Error('libjpeg-turbo has no JPEGDecoder');
  try {
    return withDecoder(Ctor, bytes, (d) => {
      d.decode();
      const info = d.getFrameInfo();
      const n = info.width * info.height * info.componentCount;
      return {
        data: copySamples(d.getDecodedBuffer(), 1, false, n),
        width: info.width,
        height: info.height,
        components: info.componentCount,
        planar: false,
        // libjpeg converts 3-component YCbCr streams to RGB while decoding.
        rgb: info.componentCount === 3,
        reduction: 0,
      };
    });
  } catch (err) {
    resetCodec('libjpeg');
    throw new Error(`JPEG decode failed: ${typeof err === 'number' ? `codec error ${err}` : ((err as Error).message ?? String(err))}`);
  }
}
