// Our cornerstone image loader: `cleft:<instanceId>[:<frame>][@<maxSize>]` fetches one decoded
// frame through the client's binary channel (image.frame) and builds the cornerstone image object.
// The back end applies no LUT: stored values arrive as they are, and the viewer applies the
// modality LUT (slope/intercept) and the VOI LUT itself.
import type { CornerstoneImage, ImageLoader } from 'cornerstone-core';
import type { FrameMeta } from '../../../../common/binary';
import { chooseSpacing, type SpacingChoice } from '../../../../common/imaging/spacing';
import type { RendererClient } from '../client';
import { defaultWindow } from './voi';

export const SCHEME = 'cleft';

export interface FrameId {
  instanceId: number;
  frame: number;
  maxSize: number | undefined;
}

export function imageIdFor(instanceId: number, frame = 0, maxSize?: number): string {
  return `${SCHEME}:${instanceId}:${frame}${maxSize ? `@${maxSize}` : ''}`;
}

export function parseImageId(imageId: string): FrameId {
  const m = /^cleft:(\d+)(?::(\d+))?(?:@(\d+))?$/.exec(imageId);
  if (!m) throw new Error(`not a CLEFT image id: ${imageId}`);
  return { instanceId: Number(m[1]), frame: m[2] ? Number(m[2]) : 0, maxSize: m[3] ? Number(m[3]) : undefined };
}

/** The image as cornerstone wants it, plus what the viewer needs beyond it (probe, overlays). */
export interface CleftImage extends CornerstoneImage {
  cleft: {
    meta: FrameMeta;
    /** Stored values, one per pixel (the first sample for colour), for the probe and chest-wall detection. */
    stored: ArrayLike<number>;
    /** True when this is a reduced version of a larger frame. */
    reduced: boolean;
    /** The spacing measurements use, per full-resolution pixel (common/imaging/spacing.ts). */
    spacing: SpacingChoice;
  };
}

type Typed = Uint8Array | Int16Array | Uint16Array | Int32Array | Float32Array;

function typedView(meta: FrameMeta, data: ArrayBuffer): Typed {
  const n = meta.rows * meta.columns * meta.samples;
  switch (meta.dataType) {
    case 'uint8':
      return new Uint8Array(data, 0, n);
    case 'int16':
      return new Int16Array(data, 0, n);
    case 'uint16':
      return new Uint16Array(data, 0, n);
    case 'int32':
      return new Int32Array(data, 0, n);
    case 'float32':
      return new Float32Array(data, 0, n);
  }
}

/** Builds the cornerstone image for a decoded frame. */
export function buildImage(imageId: string, meta: FrameMeta, data: ArrayBuffer): CleftImage {
  const expected = meta.rows * meta.columns * meta.samples * bytesPer(meta.dataType);
  if (data.byteLength < expected) {
    throw new Error(
      `image ${meta.instanceId}: ${data.byteLength} pixel bytes for a ${meta.columns}x${meta.rows}x${meta.samples} ${meta.dataType} frame`,
    );
  }
  const raw = typedView(meta, data);
  const color = meta.samples >= 3;
  let pixels: ArrayLike<number>;
  let stored: ArrayLike<number> = raw;
  let min = meta.minValue;
  let max = meta.maxValue;
  let slope = meta.rescaleSlope || 1;
  let intercept = meta.rescaleIntercept;
  if (color) {
    // cornerstone draws colour from RGBA bytes.
    const n = meta.rows * meta.columns;
    const rgba = new Uint8Array(n * 4);
    const firsts = new Uint8Array(n);
    for (let i = 0, j = 0, k = 0; i < n; i++, j += meta.samples, k += 4) {
      rgba[k] = raw[j]!;
      rgba[k + 1] = raw[j + 1]!;
      rgba[k + 2] = raw[j + 2]!;
      rgba[k + 3] = 255;
      firsts[i] = raw[j]!;
    }
    pixels = rgba;
    stored = firsts;
    min = 0;
    max = 255;
  } else if (meta.dataType === 'float32') {
    // cornerstone's LUT is indexed by integer stored values: quantise to 16 bits and fold the
    // step into the rescale, so modality values stay what they were.
    const span = meta.maxValue - meta.minValue || 1;
    const q = new Uint16Array(raw.length);
    for (let i = 0; i < raw.length; i++) q[i] = Math.round(((raw[i]! - meta.minValue) / span) * 65535);
    pixels = q;
    intercept = meta.rescaleIntercept + slope * meta.minValue;
    slope = (slope * span) / 65535;
    min = 0;
    max = 65535;
  } else {
    pixels = raw;
    min = Math.floor(meta.minValue);
    max = Math.ceil(meta.maxValue);
  }
  const window = color ? { center: 127.5, width: 256 } : defaultWindow(meta);
  const reduced = meta.rows < meta.fullRows || meta.columns < meta.fullColumns;
  // Row spacing \ column spacing of the full frame; a reduced frame's pixels are larger.
  const rowScale = meta.fullRows / meta.rows;
  const colScale = meta.fullColumns / meta.columns;
  const spacing = spacingOf(meta);
  return {
    imageId,
    minPixelValue: min,
    maxPixelValue: max,
    slope,
    intercept,
    windowCenter: window.center,
    windowWidth: window.width,
    getPixelData: () => pixels,
    rows: meta.rows,
    columns: meta.columns,
    height: meta.rows,
    width: meta.columns,
    color,
    rgba: false,
    invert: meta.photometric === 'MONOCHROME1',
    rowPixelSpacing: spacing.unit === 'mm' ? spacing.row * rowScale : undefined,
    columnPixelSpacing: spacing.unit === 'mm' ? spacing.column * colScale : undefined,
    sizeInBytes: (pixels as Typed).byteLength ?? data.byteLength,
    cleft: { meta, stored, reduced, spacing },
  };
}

/** The measurement spacing of a frame's header facts. */
export function spacingOf(meta: FrameMeta): SpacingChoice {
  return chooseSpacing({
    pixelSpacing: meta.pixelSpacing,
    imagerPixelSpacing: meta.imagerPixelSpacing ?? null,
    magnificationFactor: meta.magnificationFactor ?? null,
    calibrationType: meta.spacingCalibration ?? null,
  });
}

function bytesPer(type: FrameMeta['dataType']): number {
  return type === 'uint8' ? 1 : type === 'int16' || type === 'uint16' ? 2 : 4;
}

/** The loader cornerstone calls for `cleft:` ids. */
export function createLoader(client: Pick<RendererClient, 'invokeBinary'>): ImageLoader {
  return (imageId: string) => {
    const promise = (async () => {
      const id = parseImageId(imageId);
      const { meta, data } = await client.invokeBinary('image.frame', {
        instanceId: id.instanceId,
        frame: id.frame,
        ...(id.maxSize ? { maxSize: id.maxSize } : {}),
      });
      return buildImage(imageId, meta, data);
    })();
    return { promise };
  };
}

/** Longest side to ask for so the frame fills `cssPixels` on this screen, in a few fixed steps so
 * the 2x2 and single-view layouts share cached frames. Null means full resolution. */
export function requestSize(cssPixels: number, devicePixelRatio: number, fullLongest: number | null): number | undefined {
  const need = Math.max(64, Math.ceil(cssPixels * Math.max(1, devicePixelRatio)));
  const steps = [256, 512, 768, 1024, 1536, 2048, 3072, 4096];
  const size = steps.find((s) => s >= need) ?? undefined;
  if (size === undefined) return undefined;
  if (fullLongest !== null && size >= fullLongest) return undefined;
  return size;
}
