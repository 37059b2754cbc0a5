// Whether a header's pixel description is usable and agrees with the pixel data the file holds.
// The same checks run when a file is decoded (decode.ts) and when it is imported (header.ts with
// checkPixelData), so the library never indexes a file that `cleft dicom pixels` then refuses,
// and no frame count or image size is believed before it is compared with the bytes present.
import { DicomDataError } from './errors';
import type { DicomHeader } from './header';
import { checkFrameSize } from './limits';
import { nativeFrameBits } from './pixels';

const VALID_BITS = new Set([1, 8, 16, 32]);

/** The NumberOfFrames value when it is a whole number ≥ 1 as written (IS), else null. */
export function parseNumberOfFrames(text: string): number | null {
  const t = text.trim();
  if (!/^\+?\d{1,12}$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 ? n : null;
}

/**
 * Throws DicomDataError when the pixel module cannot describe a decodable image: no pixel data,
 * NumberOfFrames not a whole number ≥ 1, an empty image, BitsAllocated or SamplesPerPixel we do
 * not decode, or one frame over the configured size limit.
 */
export function checkDeclaredGeometry(h: DicomHeader): void {
  if (!h.hasPixelData) throw new DicomDataError('no_pixels', 'no Pixel Data element');
  if (h.declaredNumberOfFrames !== null && parseNumberOfFrames(h.declaredNumberOfFrames) === null) {
    throw new DicomDataError('corrupt', `NumberOfFrames is "${h.declaredNumberOfFrames.slice(0, 20)}", not a whole number of at least 1`);
  }
  const rows = h.rows ?? 0;
  const columns = h.columns ?? 0;
  if (rows < 1 || columns < 1) throw new DicomDataError('corrupt', `image size ${columns}x${rows} (Columns x Rows) is empty`);
  const bits = h.bitsAllocated ?? 0;
  if (!VALID_BITS.has(bits) && !h.floatPixelData) {
    if (bits < 1 || bits > 64) throw new DicomDataError('corrupt', `BitsAllocated ${bits} is not a valid value`);
    throw new DicomDataError('unsupported', `BitsAllocated ${bits}`);
  }
  const spp = h.samplesPerPixel;
  if (spp !== 1 && spp !== 3) throw new DicomDataError('unsupported', `SamplesPerPixel ${spp}`);
  checkFrameSize(rows, columns, spp);
}

/** What the file holds for the pixel data, as far as the caller knows it. */
export interface PixelDataPresent {
  /** Native pixel data: the element's length in bytes. Encapsulated: -1. */
  length: number;
  /** Bytes the file holds from the start of the pixel data value to its end. */
  available: number;
  /** Encapsulated: fragments found (the offset table not counted), when known. */
  fragments?: number;
}

function describe(h: DicomHeader): string {
  const spp = h.samplesPerPixel > 1 ? `x${h.samplesPerPixel}` : '';
  return `${h.columns}x${h.rows}${spp} at ${h.bitsAllocated} bits`;
}

/**
 * Compares the declared geometry (already checked by checkDeclaredGeometry) with the data present:
 * native pixel data must hold the declared frames (truncated when the file ends first, corrupt
 * when the element itself is shorter) and not a whole frame more (Rows, Columns, BitsAllocated or
 * NumberOfFrames would then be wrong: BitsAllocated 1 on 16-bit data decodes as noise); an
 * encapsulated image needs at least one fragment per frame.
 */
export function checkPixelDataPresent(h: DicomHeader, encapsulated: boolean, p: PixelDataPresent): void {
  const frames = h.numberOfFrames;
  if (!encapsulated) {
    if (p.length < 0) throw new DicomDataError('corrupt', 'native transfer syntax but the pixel data is encapsulated');
    if (p.length > p.available) {
      throw new DicomDataError('truncated', `pixel data needs ${p.length} bytes, the file holds ${p.available}`);
    }
    const frameBits = nativeFrameBits({
      rows: h.rows ?? 0,
      columns: h.columns ?? 0,
      samplesPerPixel: h.samplesPerPixel,
      bitsAllocated: h.bitsAllocated ?? 0,
      bitsStored: h.bitsStored ?? 0,
      highBit: h.highBit ?? 0,
      pixelRepresentation: h.pixelRepresentation ?? 0,
      photometricInterpretation: (h.photometricInterpretation ?? '').toUpperCase(),
      planarConfiguration: h.planarConfiguration ?? 0,
    });
    if (frameBits <= 0) return;
    const need = Math.ceil((frames * frameBits) / 8);
    const plural = frames === 1 ? 'frame' : 'frames';
    if (p.length < need) {
      throw new DicomDataError('corrupt', `pixel data is ${p.length} bytes, ${frames} ${plural} of ${describe(h)} need ${need}`);
    }
    // One byte more is the padding to an even length.
    const holds = Math.floor((p.length * 8) / frameBits);
    if (p.length > need + 1 && holds > frames) {
      throw new DicomDataError(
        'corrupt',
        `pixel data is ${p.length} bytes, enough for ${holds} frames of ${describe(h)}, but the header declares ${frames}: Rows, Columns, BitsAllocated or NumberOfFrames is wrong`,
      );
    }
    return;
  }
  if (h.bitsAllocated === 1) throw new DicomDataError('corrupt', 'BitsAllocated 1 (bit-packed) with compressed pixel data');
  const fragments = p.fragments;
  if (fragments !== undefined ? frames > fragments : frames * 8 > p.available) {
    throw new DicomDataError(
      'corrupt',
      `NumberOfFrames is ${frames} but the pixel data holds ${fragments !== undefined ? `${fragments} fragment(s)` : `only ${p.available} bytes`}`,
    );
  }
}
