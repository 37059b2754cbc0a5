// JPEG-LS lossless and near-lossless through CharLS (WASM). The encoded bytes are copied into the
// decoder's heap once (CharLS needs them there); the decoded samples are read in place by `use`
// when given (no copy out of the heap), else copied.
import type { CodecOptions, CodecOutput } from './types';
import { detach, loadCodec, resetCodec, runUse, viewSamples, withDecoder } from './wasm';

const useErrors = new WeakSet<object>();

export async function decodeJpegLs(bytes: Uint8Array, opts?: CodecOptions): Promise<CodecOutput>;
export async function decodeJpegLs<T>(bytes: Uint8Array, opts: CodecOptions, use: (out: CodecOutput) => T): Promise<T>;
export async function decodeJpegLs<T>(bytes: Uint8Array, opts: CodecOptions = {}, use?: (out: CodecOutput) => T): Promise<T | CodecOutput> {
  void opts;
  const mod = await loadCodec('charls');
  const Ctor = mod.JpegLSDecoder;
  if (!Ctor) throw new Error('charls has no JpegLSDecoder');
  try {
    return withDecoder(Ctor, bytes, (d) => {
      d.decode();
      const info = d.getFrameInfo();
      const bytesPerSample = info.bitsPerSample > 8 ? 2 : 1;
      const n = info.width * info.height * info.componentCount;
      // JPEG-LS has no signed samples; the header's PixelRepresentation reinterprets the bits later.
      const out: CodecOutput = {
        data: viewSamples(d.getDecodedBuffer(), bytesPerSample, false, n),
        width: info.width,
        height: info.height,
        components: info.componentCount,
        // Interleave mode 0 ("none") keeps each component in its own scan: planar output.
        planar: info.componentCount > 1 && (d.getInterleaveMode?.() ?? 1) === 0,
        rgb: false,
        reduction: 0,
      };
      return use ? runUse(out, use, useErrors) : detach(out);
    });
  } catch (err) {
    if (err && typeof err === 'object' && useErrors.has(err)) throw err;
    resetCodec('charls');
    throw new Error(`JPEG-LS decode failed: ${typeof err === 'number' ? `codec error ${err}` : ((err as Error).message ?? String(err))}`);
  }
}
