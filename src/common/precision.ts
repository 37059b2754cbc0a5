// The precision of the frozen encoders' weights, chosen explicitly by the user (`--weights`, the job
// param `weights`, Settings' Weights). float32 is exact and the default; int8 is weight-only
// blockwise int8 (docs/engine.md#int8-weights), smaller and faster, with the error stated there.
import { z } from 'zod';

export const WEIGHT_PRECISIONS = ['float32', 'int8'] as const;
export const WeightPrecision = z.enum(WEIGHT_PRECISIONS);
export type WeightPrecision = z.infer<typeof WeightPrecision>;

/** The precision a job runs with: its own param, else Settings', else float32. */
export function chosenWeights(jobWeights: string | null | undefined, settingsWeights: string | null | undefined): WeightPrecision {
  for (const w of [jobWeights, settingsWeights]) if (w === 'float32' || w === 'int8') return w;
  return 'float32';
}

/** ", int8 weights" for a summary line; exact float32, the default, goes unsaid (as in the Jobs drawer). */
export function weightsNote(weights: WeightPrecision | null | undefined): string {
  return weights === 'int8' ? ', int8 weights' : '';
}
