// DICOM image -> model input tensor (3, size, size), following a PreprocessSpec.
import { DicomError, asDicomError } from '../errors';
import { type DecodedFrame, type DicomImage, type RawFrame, decodeFrame, openDicomFile, withRawFrame } from '../decode';
import { normalise, rawBitsAndTable } from '../pixels';
import type { DicomHeader } from '../header';
import { applyMinMax, applyModality, applyVoiLut, applyWindow } from '../../../common/imaging/voi';
import {
  type ChestWall,
  type ChestWallSource,
  type EdgeBands,
  type Side,
  findChestWall,
  edgeBands,
} from '../../../common/imaging/chest-wall';
import { readLutSequence, windowOf } from './lut';
import {
  type Box,
  type FloatImage,
  type StoredImage,
  crop,
  flipHorizontal,
  longSideSize,
  otsuBox,
  padToSquare,
  resize,
  resizeLongSideAndPad,
  resizeStored,
} from './geometry';
import { type PreprocessSpec, PreprocessSpec as SpecSchema, type PreprocessSpecInput, specHash } from './spec';

export type Stage = 'stored' | 'modality' | 'voi';

export interface PreparedImage {
  /** (3, size, size) float32, channel-major. */
  pixelValues: Float32Array;
  file: string;
  sopInstanceUID: string | null;
  breastSide: string | null;
  viewPosition: string | null;
  chestWall: Side;
  chestWallSource: ChestWallSource;
  flipped: boolean;
  /** J2K wavelet levels skipped when decoding (0 = full resolution decode). */
  decodeReduction: number;
  /** Otsu crop box in the padded square, or null. */
  crop: Box | null;
  forProcessing: boolean;
}

export interface PreparedBatch {
  /** (B, 3, size, size) float32. */
  pixelValues: Float32Array;
  shape: [number, number, number, number];
  images: PreparedImage[];
  spec: PreprocessSpec;
  specHash: string;
}

type VoiSource = 'none' | 'window' | 'lut' | 'minmax';

/** Which VOI the `voi` stage applies to a mono image. */
function voiSource(img: DicomImage, voiWindowIndex: number, voiPrefer: 'window' | 'lut'): VoiSource {
  const h = img.header;
  const win = windowOf(h, voiWindowIndex);
  if (win && (voiPrefer === 'window' || !h.hasVoiLutSequence)) return 'window';
  if (h.hasVoiLutSequence && readLutSequence(img.dataSet, 'x00283010', 0)) return 'lut';
  return 'minmax';
}

/** Applies the intensity stages to a decoded frame: modality LUT, then VOI LUT to [0, 255]. */
export function toStage(
  img: DicomImage,
  frame: DecodedFrame,
  stage: Stage,
  voiWindowIndex = 0,
  voiPrefer: 'window' | 'lut' = 'window',
): Float32Array | Int32Array | Uint32Array {
  if (stage === 'stored' || frame.samples !== 1) return frame.data;
  return stageValues(img, frame.data, stage, voiWindowIndex, voiPrefer);
}

/** Elementwise intensity stages over any array of stored values (min/max VOI uses its extremes). */
function stageValues(
  img: DicomImage,
  data: Int32Array | Uint32Array | Float32Array,
  stage: 'modality' | 'voi',
  voiWindowIndex: number,
  voiPrefer: 'window' | 'lut',
): Float32Array {
  const h = img.header;
  const pr = img.layout.pixelRepresentation;
  const modLut = h.hasModalityLutSequence ? readLutSequence(img.dataSet, 'x00283000', pr) : undefined;
  const modality = applyModality(data, { slope: h.rescaleSlope, intercept: h.rescaleIntercept }, modLut);
  if (stage === 'modality') return modality;
  const win = windowOf(h, voiWindowIndex);
  const voiLut = h.hasVoiLutSequence ? readLutSequence(img.dataSet, 'x00283010', modLut ? 0 : pr) : undefined;
  if (win && (voiPrefer === 'window' || !voiLut)) return applyWindow(modality, win);
  if (voiLut) return applyVoiLut(modality, voiLut);
  return applyMinMax(modality);
}

function scaleMax(frame: DecodedFrame): Float32Array {
  let max = 0;
  for (const v of frame.data) if (v > max) max = v;
  const s = max > 0 ? 255 / max : 0;
  const out = new Float32Array(frame.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, frame.data[i]! * s);
  return out;
}

/**
 * The chest-wall edge by the shared rule (src/common/imaging/chest-wall.ts): PatientOrientation,
 * else laterality, else the pixels. The model needs a side, so on the pixels any difference
 * decides (no undecided margin) and an exact tie reads as left. `tissueDark`: MONOCHROME1 values
 * that the intensity stage did not invert.
 */
export function chestWallOf(h: DicomHeader, bands: () => EdgeBands, tissueDark: boolean): ChestWall {
  return (
    findChestWall({ patientOrientation: h.patientOrientation, laterality: h.breastSide, bands, tissueDark, margin: 0 }) ?? {
      side: 'left',
      source: 'image',
    }
  );
}

function autoLevel(img: DicomImage, spec: PreprocessSpec): number {
  if (spec.decodeReduction === 'none') return 0;
  const codec = img.transferSyntax.codec;
  if (codec !== 'j2k' && codec !== 'htj2k') return 0;
  const target = 2 * (spec.padLongSide ?? spec.size);
  const long = Math.max(img.layout.rows, img.layout.columns);
  return Math.max(0, Math.floor(Math.log2(long / target)));
}

/** The intensity stage and inversion materialised as a full-size float image (reference path). */
export function referenceIntensity(img: DicomImage, frame: DecodedFrame, spec: PreprocessSpec): FloatImage {
  const values =
    spec.intensity === 'scale_max' ? scaleMax(frame) : Float32Array.from(toStage(img, frame, 'voi', spec.voiWindowIndex, spec.voiPrefer));
  if (spec.invertMonochrome1 && frame.photometric === 'MONOCHROME1') for (let i = 0; i < values.length; i++) values[i] = 255 - values[i]!;
  return { width: frame.columns, height: frame.rows, channels: frame.samples, data: values };
}

/** Largest stored-value range mapped through a lookup table (larger ranges take the float path). */
const MAX_LUT = 1 << 20;

/**
 * The intensity stage (and MONOCHROME1 inversion) as a table over the frame's stored values
 * [lo, hi]: the same float32 operations per value as the elementwise path, so the mapped image is
 * bit-identical. Undefined when a table does not apply (float pixel data, huge ranges, or a
 * min/max VOI whose extremes depend on which values occur).
 */
function intensityLut(img: DicomImage, frame: DecodedFrame, spec: PreprocessSpec): StoredImage | undefined {
  if (!(frame.data instanceof Int32Array)) return undefined;
  const data = frame.data;
  let lo = 0x7fffffff;
  let hi = -0x80000000;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (data.length === 0) return undefined;
  const lut = intensityTable(img, spec, lo, hi, frame.samples, frame.photometric);
  return lut && { width: frame.columns, height: frame.rows, channels: frame.samples, data, lut, lo };
}

/** The intensity table over stored values [lo, hi] (see intensityLut). */
function intensityTable(
  img: DicomImage,
  spec: PreprocessSpec,
  lo: number,
  hi: number,
  samples: number,
  photometric: string,
): Float32Array | undefined {
  if (hi - lo + 1 > MAX_LUT) return undefined;
  const n = hi - lo + 1;
  let lut: Float32Array;
  if (spec.intensity === 'scale_max') {
    // scaleMax(): stored x 255 / max (max over the image, at least 0), negatives to 0.
    const max = Math.max(0, hi);
    const s = max > 0 ? 255 / max : 0;
    lut = new Float32Array(n);
    for (let i = 0; i < n; i++) lut[i] = Math.max(0, (lo + i) * s);
  } else if (samples !== 1) {
    lut = new Float32Array(n);
    for (let i = 0; i < n; i++) lut[i] = lo + i;
  } else {
    if (voiSource(img, spec.voiWindowIndex, spec.voiPrefer) === 'minmax') return undefined;
    const values = new Int32Array(n);
    for (let i = 0; i < n; i++) values[i] = lo + i;
    lut = stageValues(img, values, 'voi', spec.voiWindowIndex, spec.voiPrefer);
  }
  if (spec.invertMonochrome1 && photometric === 'MONOCHROME1') for (let i = 0; i < n; i++) lut[i] = 255 - lut[i]!;
  return lut;
}

function markSeen16(bits: Uint16Array, seen: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) seen[bits[i]!] = 1;
}
function markSeen8(bits: Uint8Array, seen: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) seen[bits[i]!] = 1;
}

interface FirstResize {
  im: FloatImage;
  chestWall: ChestWall;
  flipped: boolean;
  reduction: number;
}

/**
 * The model path on raw codec samples (a heap view or scratch buffer, read once): which raw values
 * occur gives the stored min/max, the intensity table is composed with the raw->stored table, and
 * the first resize reads the raw samples through it. No full-size array is allocated. Same values,
 * same float operations as the reference path.
 */
function firstResizeRaw(
  img: DicomImage,
  raw: RawFrame,
  spec: PreprocessSpec & { padLongSide: number },
  wantFlip: (side: Side) => boolean,
  sideOf: (bands: () => EdgeBands, photometric: string) => ChestWall,
): FirstResize | undefined {
  const { out, layout } = raw;
  if (out.components !== 1 || out.planar) return undefined;
  const rt = rawBitsAndTable(out, layout, raw.normalise);
  if (!rt) return undefined;
  const n = out.width * out.height;
  if (rt.bits.length < n) throw new Error(`decoder returned ${rt.bits.length} samples, expected ${n}`);
  const { table } = rt;
  const seen = new Uint8Array(table.length);
  if (rt.bits instanceof Uint16Array) markSeen16(rt.bits, seen, n);
  else markSeen8(rt.bits, seen, n);
  let lo = 0x7fffffff;
  let hi = -0x80000000;
  for (let r = 0; r < table.length; r++) {
    if (!seen[r]) continue;
    const v = table[r]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (n === 0) return undefined;
  const lut = intensityTable(img, spec, lo, hi, 1, layout.photometricInterpretation);
  if (!lut) return undefined;
  const composite = new Float32Array(table.length);
  for (let r = 0; r < table.length; r++) if (seen[r]) composite[r] = lut[table[r]! - lo]!;
  const stored: StoredImage = { width: out.width, height: out.height, channels: 1, data: rt.bits.subarray(0, n), lut: composite, lo: 0 };
  const chestWall = sideOf(() => edgeBands(stored), layout.photometricInterpretation);
  const flipped = wantFlip(chestWall.side);
  const { w, h } = longSideSize(out.width, out.height, spec.padLongSide);
  return { im: padToSquare(resizeStored(stored, w, h, flipped), spec.padLongSide), chestWall, flipped, reduction: out.reduction };
}

export interface PrepareOptions {
  /** Use the elementwise reference path (full-size float intermediates); for tests and benches. */
  reference?: boolean;
}

export async function prepareImage(
  img: DicomImage,
  specInput: PreprocessSpecInput,
  frameIndex = 0,
  opts: PrepareOptions = {},
): Promise<PreparedImage> {
  const spec = SpecSchema.parse(specInput);
  const h = img.header;
  if (h.forProcessing && !spec.allowForProcessing) {
    throw new DicomError(
      img.file,
      'for_processing',
      'FOR PROCESSING image refused (raw detector data, not for display or models); pass allowForProcessing to use it anyway',
    );
  }
  const level = autoLevel(img, spec);
  const wantFlip = (side: Side): boolean => spec.flip !== 'none' && (spec.flip === 'chest-wall-left' ? 'left' : 'right') !== side;
  // Tissue is dark only where MONOCHROME1 values reach the pixel rule without inversion.
  const sideOf = (bands: () => EdgeBands, photometric: string): ChestWall =>
    chestWallOf(h, bands, photometric === 'MONOCHROME1' && !spec.invertMonochrome1);
  let first: FirstResize | undefined;
  let frame: DecodedFrame | undefined;
  const pad = spec.padLongSide;
  if (!opts.reference && pad !== null && !h.floatPixelData && img.layout.samplesPerPixel === 1) {
    // Fast path on the codec's own output; falls back to a normalised frame when it cannot apply.
    await withRawFrame(img, frameIndex, { level }, (raw) => {
      try {
        first = firstResizeRaw(img, raw, { ...spec, padLongSide: pad }, wantFlip, sideOf);
        if (!first) frame = normalise(raw.out, raw.layout, raw.normalise);
      } catch (err) {
        throw asDicomError(img.file, err); // e.g. a codec that returned too few samples
      }
    });
  }
  if (!first) {
    frame ??= await decodeFrame(img, frameIndex, { level });
    const stored = pad !== null && !opts.reference ? intensityLut(img, frame, spec) : undefined;
    if (stored && pad !== null) {
      // Integer frames (colour): intensity, inversion, flip and the first resize in one pass.
      const chestWall = sideOf(() => edgeBands(stored), frame.photometric);
      const flipped = wantFlip(chestWall.side);
      const { w, h: rh } = longSideSize(stored.width, stored.height, pad);
      first = { im: padToSquare(resizeStored(stored, w, rh, flipped), pad), chestWall, flipped, reduction: frame.reduction };
    } else {
      let im = referenceIntensity(img, frame, spec);
      const chestWall = sideOf(() => edgeBands(im), frame.photometric);
      const flipped = wantFlip(chestWall.side);
      if (flipped) im = flipHorizontal(im);
      if (pad !== null) im = resizeLongSideAndPad(im, pad);
      first = { im, chestWall, flipped, reduction: frame.reduction };
    }
  }
  let { im } = first;
  const { chestWall, flipped } = first;
  let box: Box | null = null;
  if (spec.otsuCrop) {
    box = otsuBox(im);
    im = crop(im, box);
  }
  im = resize(im, spec.size, spec.size);
  const n = spec.size * spec.size;
  const out = new Float32Array(3 * n);
  for (let ch = 0; ch < 3; ch++) {
    const src = im.channels === 1 ? 0 : ch;
    const m = spec.mean[ch]!;
    const s = spec.std[ch]!;
    for (let p = 0; p < n; p++) out[ch * n + p] = (im.data[p * im.channels + src]! / 255 - m) / s;
  }
  return {
    pixelValues: out,
    file: img.file,
    sopInstanceUID: h.sopInstanceUID,
    breastSide: h.breastSide,
    viewPosition: h.mammoView,
    chestWall: flipped ? (chestWall.side === 'left' ? 'right' : 'left') : chestWall.side,
    chestWallSource: chestWall.source,
    flipped,
    decodeReduction: first.reduction,
    crop: box,
    forProcessing: h.forProcessing,
  };
}

/** Prepares several files into one (B, 3, size, size) batch. */
export async function prepareFiles(files: string[], specInput: PreprocessSpecInput): Promise<PreparedBatch> {
  const spec = SpecSchema.parse(specInput);
  const images: PreparedImage[] = [];
  for (const f of files) images.push(await prepareImage(await openDicomFile(f), spec));
  const n = 3 * spec.size * spec.size;
  const pixelValues = new Float32Array(images.length * n);
  images.forEach((im, i) => pixelValues.set(im.pixelValues, i * n));
  return { pixelValues, shape: [images.length, 3, spec.size, spec.size], images, spec, specHash: specHash(spec) };
}
