/**
 * CLIP-style heads: `text_projection.weight` [d_proj, d_text] and `visual_projection.weight`
 * [d_proj, d_image] (nn.Linear without bias, so y = x W^T), and the scalar `logit_scale`
 * (logits = exp(logit_scale) * img @ txt^T).
 */
import * as path from 'node:path';
import {
  readSafetensorsHeader,
  readTensors,
  writeSafetensors,
  toFloat32,
  SAFETENSORS_STYLE,
  SafetensorsError,
  type HeaderStyle,
} from '../formats/safetensors';
import { ModelFormatError } from '../formats/hf-folder';

export const TEXT_PROJECTION = 'text_projection.weight';
export const VISUAL_PROJECTION = 'visual_projection.weight';
export const LOGIT_SCALE = 'logit_scale';
/** CLIP's initial logit scale, ln(1/0.07). */
export const LOGIT_SCALE_INIT = Math.log(1 / 0.07);

export interface Heads {
  /** [projDim, textDim], row-major. */
  textProjection: Float32Array;
  /** [projDim, imageDim]. */
  visualProjection: Float32Array;
  logitScale: number;
  projDim: number;
  textDim: number;
  imageDim: number;
  /** Shape logit_scale was stored with ([] or [1]); kept for round trips. */
  logitScaleShape: number[];
  /** Layout of the source file, kept for byte-identical rewrites (null for new heads). */
  source: { file: string; style: HeaderStyle | null; metadata: Record<string, string> | null; order: string[] } | null;
}

/** Reads and validates a heads file. */
export function readHeads(file: string): Heads {
  const abs = path.resolve(file);
  let h;
  try {
    h = readSafetensorsHeader(abs);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFormatError(e.file, e.problem, e.tensor);
    throw e;
  }
  for (const n of [TEXT_PROJECTION, VISUAL_PROJECTION, LOGIT_SCALE])
    if (!h.tensors.has(n)) throw new ModelFormatError(abs, 'missing tensor', n);
  for (const n of h.tensors.keys())
    if (n !== TEXT_PROJECTION && n !== VISUAL_PROJECTION && n !== LOGIT_SCALE)
      throw new ModelFormatError(abs, 'unexpected tensor in a heads file (projections have no bias)', n);
  const t = readTensors(h);
  const tp = t.get(TEXT_PROJECTION)!;
  const vp = t.get(VISUAL_PROJECTION)!;
  const ls = t.get(LOGIT_SCALE)!;
  for (const [n, x] of [
    [TEXT_PROJECTION, tp],
    [VISUAL_PROJECTION, vp],
  ] as const)
    if (x.shape.length !== 2) throw new ModelFormatError(abs, `must be 2-D [proj, hidden], got [${x.shape.join(', ')}]`, n);
  if (tp.shape[0] !== vp.shape[0])
    throw new ModelFormatError(abs, `projection dims differ: text ${tp.shape[0]} vs visual ${vp.shape[0]}`, VISUAL_PROJECTION);
  if (ls.data.length !== 1 || ls.shape.length > 1)
    throw new ModelFormatError(abs, `must be a scalar, got [${ls.shape.join(', ')}]`, LOGIT_SCALE);
  const asF32 = (n: string, x: typeof tp) => {
    try {
      return toFloat32(x);
    } catch {
      throw new ModelFormatError(abs, `dtype ${x.dtype} is not floating point`, n);
    }
  };
  return {
    textProjection: asF32(TEXT_PROJECTION, tp),
    visualProjection: asF32(VISUAL_PROJECTION, vp),
    logitScale: asF32(LOGIT_SCALE, ls)[0]!,
    projDim: tp.shape[0]!,
    textDim: tp.shape[1]!,
    imageDim: vp.shape[1]!,
    logitScaleShape: ls.shape,
    source: { file: abs, style: h.style, metadata: h.metadata, order: [...h.tensors.keys()] },
  };
}

/** Checks the heads fit the encoders' hidden sizes. */
export function validateHeads(heads: Heads, textHidden: number, imageHidden: number, file = heads.source?.file ?? 'heads'): void {
  if (heads.textDim !== textHidden)
    throw new ModelFormatError(file, `takes ${heads.textDim}-d text features but the text encoder gives ${textHidden}`, TEXT_PROJECTION);
  if (heads.imageDim !== imageHidden)
    throw new ModelFormatError(
      file,
      `takes ${heads.imageDim}-d image features but the image encoder gives ${imageHidden}`,
      VISUAL_PROJECTION,
    );
}

export interface WriteHeadsOptions {
  style?: Partial<HeaderStyle>;
  metadata?: Record<string, string> | null;
}

/** Writes heads as F32; an unmodified `readHeads` result is rewritten byte for byte. */
export function writeHeads(file: string, heads: Heads, options: WriteHeadsOptions = {}): void {
  const { projDim, textDim, imageDim } = heads;
  if (heads.textProjection.length !== projDim * textDim)
    throw new Error(`writeHeads: text_projection must have ${projDim}x${textDim} values`);
  if (heads.visualProjection.length !== projDim * imageDim)
    throw new Error(`writeHeads: visual_projection must have ${projDim}x${imageDim} values`);
  const entries = {
    [TEXT_PROJECTION]: { dtype: 'F32' as const, shape: [projDim, textDim], data: heads.textProjection },
    [VISUAL_PROJECTION]: { dtype: 'F32' as const, shape: [projDim, imageDim], data: heads.visualProjection },
    [LOGIT_SCALE]: { dtype: 'F32' as const, shape: heads.logitScaleShape, data: new Float32Array([heads.logitScale]) },
  };
  const order = heads.source?.order ?? Object.keys(entries);
  const tensors = new Map(order.map((n) => [n, entries[n as keyof typeof entries]]));
  const style = options.style ?? heads.source?.style ?? SAFETENSORS_STYLE;
  const metadata = options.metadata !== undefined ? options.metadata : heads.source ? heads.source.metadata : { format: 'pt' };
  writeSafetensors(file, tensors, metadata, { style });
}

/** Fresh heads as Hugging Face's CLIPModel initialises them: N(0, d_in^-0.5), logit_scale ln(1/0.07). */
export function createHeads(textDim: number, imageDim: number, projDim: number, seed = 0): Heads {
  let s = seed >>> 0 || 0x9e3779b9;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const init = (n: number, std: number) => Float32Array.from({ length: n }, () => normal() * std);
  return {
    textProjection: init(projDim * textDim, textDim ** -0.5),
    visualProjection: init(projDim * imageDim, imageDim ** -0.5),
    logitScale: LOGIT_SCALE_INIT,
    projDim,
    textDim,
    imageDim,
    logitScaleShape: [],
    source: null,
  };
}
