// Pixel encoders for phantoms: RLE (ours), JPEG-LS (CharLS), JPEG 2000 (OpenJPEG) and HTJ2K
// (OpenJPH), all lossless. JPEG lossless SV1 has no encoder on npm; tests make it with dcmcjpeg.
import { encodeRle } from '../codecs/rle';
import { type CodecName, type WasmEncoder, loadCodec } from '../codecs/wasm';
import { TS } from '../transfer-syntax';

export const PHANTOM_SYNTAXES = {
  'explicit-le': TS.ExplicitLE,
  deflated: TS.DeflatedLE,
  rle: TS.Rle,
  'jpeg-ls': TS.JpegLsLossless,
  j2k: TS.J2kLossless,
  htj2k: TS.Htj2kLossless,
} as const;
export type PhantomSyntax = keyof typeof PHANTOM_SYNTAXES;

async function wasmEncode(
  name: CodecName,
  ctor: 'JpegLSEncoder' | 'J2KEncoder' | 'HTJ2KEncoder',
  px: Uint16Array,
  width: number,
  height: number,
  bits: number,
  configure: (e: WasmEncoder) => void,
): Promise<Uint8Array> {
  const mod = await loadCodec(name);
  const Ctor = mod[ctor];
  if (!Ctor) throw new Error(`${name} has no ${ctor}`);
  const e = new Ctor();
  try {
    const buf = e.getDecodedBuffer({
      width,
      height,
      bitsPerSample: bits,
      componentCount: 1,
      isSigned: false,
      isUsingColorTransform: false,
    });
    buf.set(new Uint8Array(px.buffer, px.byteOffset, px.byteLength));
    configure(e);
    e.encode();
    const enc = e.getEncodedBuffer(); // some builds hand back a Uint8ClampedArray heap view
    return new Uint8Array(enc.buffer.slice(enc.byteOffset, enc.byteOffset + enc.byteLength));
  } finally {
    e.delete();
  }
}

/** Encodes one 16-bit-allocated monochrome frame (stored values < 2^bits) for `syntax`. */
export async function encodeFrame(
  syntax: PhantomSyntax,
  px: Uint16Array,
  width: number,
  height: number,
  bits: number,
): Promise<Uint8Array> {
  switch (syntax) {
    case 'rle':
      return encodeRle(px, { rows: height, columns: width, samplesPerPixel: 1, bitsAllocated: 16 });
    case 'jpeg-ls':
      return wasmEncode('charlsFull', 'JpegLSEncoder', px, width, height, bits, (e) => e.setNearLossless?.(0));
    case 'j2k':
      return wasmEncode('openjpegFull', 'J2KEncoder', px, width, height, bits, (e) => {
        e.setQuality?.(true, 0);
        e.setDecompositions?.(5);
      });
    case 'htj2k':
      return wasmEncode('openjph', 'HTJ2KEncoder', px, width, height, bits, (e) => {
        e.setQuality?.(true, 0);
        e.setDecompositions?.(5);
      });
    default:
      throw new Error(`${syntax} is not an encapsulated syntax`);
  }
}
