// One-click zero-shot on the open study, as the viewer shows it: the run's predictions placed on
// the hanging (one per viewport), per breast and per exam, each beside the label at the same
// target so a disagreement stands out. Pure functions; the session lives in classify.svelte.ts.
import type { Label } from '../../../../common/contract';
import type { Prediction, Run } from '../../../../common/runs';
import { SLOTS, type Hanging, type SlotId } from './hanging';

/** A prediction with the label at its target and how they compare. */
export interface Judged {
  prediction: Prediction;
  label: string | null;
  /** null without a label. */
  agrees: boolean | null;
}

export interface StudyClassification {
  views: Partial<Record<SlotId, Judged>>;
  breasts: Partial<Record<'R' | 'L', Judged>>;
  exam: Judged | null;
  /** Predictions of images that are not in the hanging (extra views, FOR PROCESSING are never classified). */
  offHanging: number;
}

function judge(prediction: Prediction, label: string | null): Judged {
  return { prediction, label, agrees: label === null ? null : label === prediction.predictedClass };
}

/**
 * Places a study's predictions: image predictions on the viewport showing that instance, breast
 * and exam predictions by laterality. Labels come from the labeling session (same task), so an
 * unsaved-yet optimistic label is compared too.
 */
export function placePredictions(predictions: readonly Prediction[], hanging: Hanging, labels: readonly Label[]): StudyClassification {
  const out: StudyClassification = { views: {}, breasts: {}, exam: null, offHanging: 0 };
  for (const p of predictions) {
    if (p.scope === 'image') {
      const slot = SLOTS.find((s) => hanging[s.id]?.id === p.instanceId);
      const label = labels.find((l) => l.scope === 'image' && l.instanceId === p.instanceId)?.className ?? null;
      if (slot) out.views[slot.id] = judge(p, label);
      else out.offHanging++;
    } else if (p.scope === 'breast' && (p.laterality === 'R' || p.laterality === 'L')) {
      const label = labels.find((l) => l.scope === 'breast' && l.laterality === p.laterality)?.className ?? null;
      out.breasts[p.laterality] = judge(p, label);
    } else if (p.scope === 'exam') {
      out.exam = judge(p, labels.find((l) => l.scope === 'exam')?.className ?? null);
    }
  }
  return out;
}

/** How many labelled targets of the study the run gets wrong. */
export function disagreements(c: StudyClassification): number {
  const all = [...Object.values(c.views), ...Object.values(c.breasts), ...(c.exam ? [c.exam] : [])];
  return all.filter((j) => j?.agrees === false).length;
}

/** The execution provider as a person reads it: "CPU", "CUDA GPU 0". */
export function deviceName(provider: string | null | undefined): string {
  if (!provider) return 'device not recorded';
  const cuda = /^cuda:(\d+)$/.exec(provider);
  if (cuda) return `CUDA GPU ${cuda[1]}`;
  if (provider === 'webgpu') return 'WebGPU GPU';
  return provider.toUpperCase();
}

/** What a run used, in words: the prompt set or the task's templates. */
export function promptSetName(run: Pick<Run, 'promptSet'>): string {
  return run.promptSet ? `learned prompt set “${run.promptSet}”` : 'task prompt templates';
}

/** "B 71%" for a prediction. */
export function topText(p: Prediction): string {
  return `${p.predictedClass} ${Math.round(p.confidence * 100)}%`;
}
