// The preprocessing spec: everything that determines the tensor a model sees. Stored beside every
// embedding and prediction as its hash, so results computed with different preprocessing never mix.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const PreprocessSpec = z.object({
  version: z.literal(1),
  /** scale_max: stored value * 255 / image max (CLEFT/EMBED). voi: modality LUT then VOI LUT to [0,255]. */
  intensity: z.enum(['scale_max', 'voi']),
  /** Which window centre/width pair to use when several are given (0 = first). */
  voiWindowIndex: z.number().int().min(0).default(0),
  /** When a file has both a window and a VOI LUT Sequence, which one wins. */
  voiPrefer: z.enum(['window', 'lut']).default('window'),
  invertMonochrome1: z.boolean().default(true),
  /** Mirror images so the chest wall is on one side (none = keep as stored). */
  flip: z.enum(['none', 'chest-wall-left', 'chest-wall-right']).default('none'),
  /** Resize so the long side is this, zero-padding to a square (null = skip). */
  padLongSide: z.number().int().positive().nullable().default(256),
  otsuCrop: z.boolean().default(true),
  /** Final square side. */
  size: z.number().int().positive().default(224),
  /** area = exact area averaging when shrinking (antialiased), bilinear when enlarging. */
  resize: z.literal('area').default('area'),
  mean: z.tuple([z.number(), z.number(), z.number()]).default([0.5, 0.5, 0.5]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([0.5, 0.5, 0.5]),
  /**
   * JPEG 2000 only: auto = decode at the coarsest wavelet level that still leaves at least twice the
   * first resize target (padLongSide or size); none = always full resolution.
   */
  decodeReduction: z.enum(['auto', 'none']).default('auto'),
  /** FOR PROCESSING images are refused unless this is set. */
  allowForProcessing: z.boolean().default(false),
});
export type PreprocessSpec = z.infer<typeof PreprocessSpec>;
export type PreprocessSpecInput = z.input<typeof PreprocessSpec>;

export const PRESETS = {
  /** As the CLEFT code prepares EMBED. */
  cleft: PreprocessSpec.parse({ version: 1, intensity: 'scale_max' }),
  /** VOI LUT first (what a radiologist sees), then the same geometry. */
  voi: PreprocessSpec.parse({ version: 1, intensity: 'voi' }),
} as const;
export type PresetName = keyof typeof PRESETS;

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** Canonical JSON: keys sorted at every level, defaults filled, no whitespace. */
export function canonicalSpecJson(spec: PreprocessSpecInput): string {
  return JSON.stringify(canonical(PreprocessSpec.parse(spec)));
}

/** sha256 (hex) of the canonical JSON. */
export function specHash(spec: PreprocessSpecInput): string {
  return createHash('sha256').update(canonicalSpecJson(spec)).digest('hex');
}

export function presetSpec(name: string): PreprocessSpec {
  if (!(name in PRESETS)) throw new Error(`unknown preset "${name}" (known: ${Object.keys(PRESETS).join(', ')})`);
  return PRESETS[name as PresetName];
}
