// JPEG 2000 (OpenJPEG) and HTJ2K (OpenJPH, with OpenJPEG as fallback since the HTJ2K transfer
// syntaxes also allow plain Part-1 codestreams). Both can stop the wavelet synthesis early and
// return 1/2^level of the full size: the model path needs 224-518 px, not 3328x4096.
import type { CodecOptions, CodecOutput } from './types';
import { type CodecName, type WasmDecoder, detach, loadCodec, resetCodec, runUse, viewSamples, withDecoder } from './wasm';

const useErrors = new WeakSet<object>();

/** DICOM may wrap the codestream in a JP2 file (boxes); the codecs want the raw codestream. */
export function j2kCodestream(bytes: Uint8Array): Uint8Array {
  // JP2 signature box: 0000000C 6A502020
  if (bytes.length > 12 && bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20) {
    let pos = 0;
    while (pos + 8 <= bytes.length) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + pos);
      let len = dv.getUint32(0);
      const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
      let header = 8;
      if (len === 1) {
        len = Number(dv.getBigUint64(8));
        header = 16;
      } else if (len === 0) len = bytes.length - pos;
      if (type === 'jp2c') return bytes.subarray(pos + header, pos + len);
      if (len < header) break;
      pos += len;
    }
    throw new Error('JP2 file without a jp2c codestream box');
  }
  return bytes;
}

export interface J2kSize {
  width: number;
  height: number;
  components: number;
}

/** Image size and component count from the SIZ marker, which follows SOC (FF4F FF51). */
export function readJ2kSize(cs: Uint8Array): J2kSize | undefined {
  if (cs.length < 42 || cs[0] !== 0xff || cs[1] !== 0x4f || cs[2] !== 0xff || cs[3] !== 0x51) return undefined;
  const dv = new DataView(cs.buffer, cs.byteOffset, cs.byteLength);
  // Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz (4 each) ... Csiz(2) at 40.
  return { width: dv.getUint32(8) - dv.getUint32(16), height: dv.getUint32(12) - dv.getUint32(20), components: dv.getUint16(40) };
}

/**
 * Refuses a codestream whose SIZ disagrees with the DICOM header before the codec sees it: OpenJPEG
 * answers a corrupt SIZ (e.g. a width of 3.7e9) with an empty image, not an error.
 */
function checkSize(cs: Uint8Array, opts: CodecOptions): void {
  const siz = readJ2kSize(cs);
  if (!siz) throw new Error('JPEG 2000 decode failed: no SOC/SIZ marker at the start of the codestream');
  const { rows, columns, samplesPerPixel } = opts;
  if ((columns !== undefined && siz.width !== columns) || (rows !== undefined && siz.height !== rows))
    throw new Error(
      `JPEG 2000 codestream is corrupt or mismatched: its SIZ marker says ${siz.width}x${siz.height}, header says ${columns}x${rows}`,
    );
  if (samplesPerPixel !== undefined && siz.components !== samplesPerPixel)
    throw new Error(`JPEG 2000 codestream has ${siz.components} components, header says ${samplesPerPixel}`);
}

function isHtCodestream(cs: Uint8Array): boolean {
  // HT codestreams carry a CAP marker (FF50) in the main header, before the first tile (FF90).
  for (let i = 2; i + 1 < Math.min(cs.length, 4096); i++) {
    if (cs[i] !== 0xff) continue;
    const m = cs[i + 1]!;
    if (m === 0x50) return true;
    if (m === 0x90) return false;
  }
  return false;
}

function decodeWith<T>(Ctor: new () => WasmDecoder, cs: Uint8Array, level: number, use: (out: CodecOutput) => T): T {
  return withDecoder(Ctor, cs, (d) => {
    // OpenJPEG's readHeader() does not fill getFrameInfo(); read the level count from COD ourselves.
    const maxLevel = j2kDecompositionLevels(cs);
    const lv = Math.max(0, Math.min(level, maxLevel));
    if (lv > 0 && d.decodeSubResolution && d.calculateSizeAtDecompositionLevel) d.decodeSubResolution(lv, 0);
    else d.decode();
    const info = d.getFrameInfo();
    let { width, height } = info;
    if (lv > 0 && d.calculateSizeAtDecompositionLevel) ({ width, height } = d.calculateSizeAtDecompositionLevel(lv));
    if (width === 0 || height === 0) throw new Error('the decoder produced no image (corrupt codestream)');
    const bytesPerSample = info.bitsPerSample > 8 ? 2 : 1;
    const n = width * height * info.componentCount;
    const out: CodecOutput = {
      data: viewSamples(d.getDecodedBuffer(), bytesPerSample, Boolean(info.isSigned), n),
      width,
      height,
      components: info.componentCount,
      planar: false,
      // The codec undoes the multi-component transform (YBR_RCT/YBR_ICT) itself; a YBR_FULL
      // photometric without MCT is converted later from the header, like any other syntax.
      rgb: false,
      reduction: lv,
    };
    return runUse(out, use, useErrors);
  });
}

async function run<T>(
  name: CodecName,
  ctor: 'J2KDecoder' | 'HTJ2KDecoder',
  cs: Uint8Array,
  level: number,
  use: (out: CodecOutput) => T,
): Promise<T> {
  const mod = await loadCodec(name);
  const Ctor = mod[ctor];
  if (!Ctor) throw new Error(`${name} has no ${ctor}`);
  try {
    return decodeWith(Ctor, cs, level, use);
  } catch (err) {
    if (err && typeof err === 'object' && useErrors.has(err)) throw err;
    resetCodec(name);
    throw new Error(
      `${ctor === 'J2KDecoder' ? 'JPEG 2000' : 'HTJ2K'} decode failed: ${typeof err === 'number' ? `codec error ${err}` : ((err as Error).message ?? String(err))}`,
    );
  }
}

/**
 * Decodes a JPEG 2000 frame. With `use`, the samples are handed over as a view into the codec's
 * heap (valid only during `use`, no copy); without, a copy is returned.
 */
export async function decodeJ2k(bytes: Uint8Array, opts?: CodecOptions): Promise<CodecOutput>;
export async function decodeJ2k<T>(bytes: Uint8Array, opts: CodecOptions, use: (out: CodecOutput) => T): Promise<T>;
export async function decodeJ2k<T>(bytes: Uint8Array, opts: CodecOptions = {}, use?: (out: CodecOutput) => T): Promise<T | CodecOutput> {
  const cs = j2kCodestream(bytes);
  checkSize(cs, opts);
  const u: (out: CodecOutput) => T | CodecOutput = use ?? detach;
  if (isHtCodestream(cs)) return run('openjph', 'HTJ2KDecoder', cs, opts.level ?? 0, u);
  return run('openjpeg', 'J2KDecoder', cs, opts.level ?? 0, u);
}

export async function decodeHtj2k(bytes: Uint8Array, opts?: CodecOptions): Promise<CodecOutput>;
export async function decodeHtj2k<T>(bytes: Uint8Array, opts: CodecOptions, use: (out: CodecOutput) => T): Promise<T>;
export async function decodeHtj2k<T>(bytes: Uint8Array, opts: CodecOptions = {}, use?: (out: CodecOutput) => T): Promise<T | CodecOutput> {
  const cs = j2kCodestream(bytes);
  checkSize(cs, opts);
  const u: (out: CodecOutput) => T | CodecOutput = use ?? detach;
  if (!isHtCodestream(cs)) return run('openjpeg', 'J2KDecoder', cs, opts.level ?? 0, u);
  return run('openjph', 'HTJ2KDecoder', cs, opts.level ?? 0, u);
}

/** Number of wavelet levels in the codestream (COD marker), without decoding; 0 if not found. */
export function j2kDecompositionLevels(bytes: Uint8Array): number {
  const cs = j2kCodestream(bytes);
  for (let i = 2; i + 12 < Math.min(cs.length, 8192); i++) {
    if (cs[i] === 0xff && cs[i + 1] === 0x52) return cs[i + 9] ?? 0; // COD: Lcod(2) Scod SGcod(4) SPcod[0]=levels
    if (cs[i] === 0xff && cs[i + 1] === 0x90) break;
  }
  return 0;
}
