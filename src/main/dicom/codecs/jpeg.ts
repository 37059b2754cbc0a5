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

/** What a JPEG stream says about the colour space of its three components, as libjpeg reads it. */
export interface JpegColourMarkers {
  jfif: boolean;
  /** Adobe APP14 transform flag (0 = no transform: RGB; 1 = YCbCr), if the marker is present. */
  adobeTransform?: number;
  /** Component identifiers from the SOF segment. */
  componentIds: number[];
}

export function readJpegColourMarkers(bytes: Uint8Array): JpegColourMarkers | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  const out: JpegColourMarkers = { jfif: false, componentIds: [] };
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const m = bytes[i + 1]!;
    if (m === 0xff) {
      i++;
      continue;
    }
    const len = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    const seg = i + 4;
    const tag = (k: number, text: string): boolean => [...text].every((ch, j) => bytes[k + j] === ch.charCodeAt(0));
    if (m === 0xe0 && len >= 7 && tag(seg, 'JFIF\0')) out.jfif = true;
    if (m === 0xee && len >= 14 && tag(seg, 'Adobe')) out.adobeTransform = bytes[seg + 11];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      const n = bytes[seg + 5] ?? 0;
      for (let k = 0; k < n && seg + 6 + 3 * k < bytes.length; k++) out.componentIds.push(bytes[seg + 6 + 3 * k]!);
      return out;
    }
    if (m === 0xda || m === 0xd9) return out;
    i += 2 + len;
  }
  return out;
}

/**
 * The colour space of a 3-component stream by libjpeg's rules (jdapimin.c): a JFIF marker means
 * YCbCr; else an Adobe marker's transform flag; else component ids 1,2,3 mean YCbCr and 'R','G','B'
 * mean RGB. Undefined when the stream does not say (libjpeg then guesses YCbCr; we ask the header).
 */
export function jpegStreamColour(mk: JpegColourMarkers): { colour: 'ycbcr' | 'rgb'; why: string } | undefined {
  if (mk.jfif) return { colour: 'ycbcr', why: 'a JFIF marker' };
  if (mk.adobeTransform !== undefined)
    return { colour: mk.adobeTransform === 0 ? 'rgb' : 'ycbcr', why: `an Adobe marker with transform ${mk.adobeTransform}` };
  const ids = mk.componentIds.join(',');
  if (ids === '1,2,3') return { colour: 'ycbcr', why: 'component ids 1, 2, 3' };
  if (ids === '82,71,66') return { colour: 'rgb', why: "component ids 'R', 'G', 'B'" };
  return undefined;
}

/** Adobe APP14 segment with transform 0: tells libjpeg the components are RGB, not YCbCr. */
const ADOBE_NO_TRANSFORM = [0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00];

/**
 * Decides between RGB and YCbCr for a 3-component stream the way GDCM does: the stream's markers
 * win over the header (with a warning when they disagree); a stream that says nothing follows the
 * header's Photometric Interpretation. Returns the bytes libjpeg must see to decode accordingly.
 */
function colourPlan(bytes: Uint8Array, photometric: string | undefined): { bytes: Uint8Array; warnings: string[] } {
  const mk = readJpegColourMarkers(bytes);
  if (!mk || mk.componentIds.length !== 3) return { bytes, warnings: [] };
  const stream = jpegStreamColour(mk);
  const pi = (photometric ?? '').trim().toUpperCase();
  const headerRgb = pi === 'RGB';
  const headerYbr = pi.startsWith('YBR');
  if (stream) {
    const warnings: string[] = [];
    if (stream.colour === 'ycbcr' && headerRgb)
      warnings.push(`Photometric Interpretation says RGB but the JPEG stream is YCbCr (${stream.why}): converted to RGB`);
    if (stream.colour === 'rgb' && headerYbr)
      warnings.push(`Photometric Interpretation says ${pi} but the JPEG stream is RGB (${stream.why}): not colour converted`);
    return { bytes, warnings };
  }
  if (!headerRgb) return { bytes, warnings: [] }; // libjpeg's own guess, YCbCr, agrees with the header
  // No marker and unusual ids (e.g. 0,1,2): libjpeg would guess YCbCr; the header says RGB.
  const patched = new Uint8Array(bytes.length + ADOBE_NO_TRANSFORM.length);
  patched.set(bytes.subarray(0, 2), 0);
  patched.set(ADOBE_NO_TRANSFORM, 2);
  patched.set(bytes.subarray(2), 2 + ADOBE_NO_TRANSFORM.length);
  return { bytes: patched, warnings: [] };
}

export async function decodeJpegDct(bytes: Uint8Array, opts: CodecOptions = {}): Promise<CodecOutput> {
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
  const plan = colourPlan(bytes, opts.photometricInterpretation);
  try {
    return withDecoder(Ctor, plan.bytes, (d) => {
      d.decode();
      const info = d.getFrameInfo();
      const n = info.width * info.height * info.componentCount;
      const out: CodecOutput = {
        data: copySamples(d.getDecodedBuffer(), 1, false, n),
        width: info.width,
        height: info.height,
        components: info.componentCount,
        planar: false,
        // libjpeg hands back RGB for 3 components: converted from YCbCr, or RGB in the stream.
        rgb: info.componentCount === 3,
        reduction: 0,
      };
      if (plan.warnings.length) out.warnings = plan.warnings;
      return out;
    });
  } catch (err) {
    resetCodec('libjpeg');
    throw new Error(`JPEG decode failed: ${typeof err === 'number' ? `codec error ${err}` : ((err as Error).message ?? String(err))}`);
  }
}
