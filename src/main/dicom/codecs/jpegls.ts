// JPEG-LS lossless and near-lossless through CharLS (WASM).
import type { CodecOptions, CodecOutput } from './types';
import { copySamples, loadCodec, resetCodec, withDecoder } from './wasm';

export async function decodeJpegLs(bytes: Uint8Array, opts: CodecOptions = {}): Promise<CodecOutput> {
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
      return {
        data: copySamples(d.getDecodedBuffer(), bytesPerSample, false, n),
        width: info.width,
        height: info.height,
        components: info.componentCount,
        // Interleave mode 0 ("none") keeps each component in its own scan: planar output.
        planar: info.componentCount > 1 && (d.getInterleaveMode?.() ?? 1) === 0,
        rgb: false,
        reduction: 0,
      };
    });
  } catch (err) {
    resetCodec('charls');
    throw new Error(`JPEG-LS decode failed: ${typeof err === 'number' ? `codec error ${err}` : ((err as Error).message ?? String(err))}`);
  }
}
