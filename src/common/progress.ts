// The rules behind what a job's progress claims, in one place for the worker side (job queue, job
// kinds) and the UI: the share of the work done, the time left from the rate measured lately,
// when validation has stalled (early stopping), and when training diverges. Pure functions over the
// sequences a job produces, so they are tested on recorded runs.

/** How far a job made of stages is, each stage counted in its own units of work (images, updates). */
export function stagedFraction(units: readonly number[], stage: number, done: number): number {
  const total = units.reduce((a, u) => a + Math.max(0, u), 0);
  if (total <= 0) return stage >= units.length ? 1 : 0;
  let before = 0;
  for (let i = 0; i < stage && i < units.length; i++) before += Math.max(0, units[i]!);
  const current = stage < units.length ? Math.min(Math.max(0, done), Math.max(0, units[stage]!)) : 0;
  return Math.min(1, (before + current) / total);
}

/** One observation of a job's progress: when (ms) and how far (0..1). */
export interface ProgressSample {
  t: number;
  fraction: number;
}

export const ETA_RULES = {
  /** The rate is measured over the most recent this many ms (earlier stages ran at other speeds). */
  windowMs: 60_000,
  /** No ETA before the rate was measured over this long... */
  minSpanMs: 3_000,
  /** ...and over at least this much progress. */
  minGain: 0.01,
} as const;

/**
 * Seconds left at the rate measured over the last `windowMs` (reaching further back only as far as
 * needed to see `minGain` of progress: a pause for validation is part of the rate); null until the
 * rate was measured over `minSpanMs` and `minGain`.
 */
export function etaSeconds(samples: readonly ProgressSample[], rules: Partial<typeof ETA_RULES> = {}): number | null {
  const r = { ...ETA_RULES, ...rules };
  const last = samples.at(-1);
  if (!last) return null;
  let i = samples.length - 1;
  while (i > 0 && (last.t - samples[i - 1]!.t <= r.windowMs || last.fraction - samples[i]!.fraction < r.minGain)) i--;
  const first = samples[i]!;
  const span = last.t - first.t;
  const gain = last.fraction - first.fraction;
  if (span < r.minSpanMs || gain < r.minGain) return null;
  return Math.max(0, ((1 - last.fraction) * span) / gain / 1000);
}

/** Records a sample, keeping at most one per `spacingMs` and none older than twice the window. */
export function addSample(samples: ProgressSample[], s: ProgressSample, spacingMs = 500): void {
  const last = samples.at(-1);
  if (last && s.fraction < last.fraction)
    samples.length = 0; // the count went back (a resume): measure anew
  else if (last && s.t - last.t < spacingMs) return;
  samples.push(s);
  while (samples.length > 2 && s.t - samples[1]!.t > 2 * ETA_RULES.windowMs) samples.shift();
}

export const EARLY_STOPPING = {
  /** Validations in a row without a real improvement before training stops. */
  patience: 5,
  /** A real improvement: the validation loss falls by at least this share of its best value. */
  minRelativeDelta: 0.01,
} as const;

/** Whether a validation loss is a real improvement over the reference (the best that counted). */
export function improves(loss: number, reference: number | null, minRelativeDelta: number = EARLY_STOPPING.minRelativeDelta): boolean {
  if (!Number.isFinite(loss)) return false;
  if (reference === null || !Number.isFinite(reference)) return true;
  return loss < reference - minRelativeDelta * Math.abs(reference);
}

export interface StallState {
  /** Validation loss of the last real improvement. */
  reference: number | null;
  /** Validations since then. */
  stale: number;
  stopped: boolean;
}

/** The stall state after one more validation (pure: a new object). */
export function afterValidation(s: StallState, loss: number, o: { patience?: number; minRelativeDelta?: number } = {}): StallState {
  const patience = o.patience ?? EARLY_STOPPING.patience;
  if (improves(loss, s.reference, o.minRelativeDelta)) return { reference: loss, stale: 0, stopped: false };
  const stale = s.stale + 1;
  return { reference: s.reference, stale, stopped: stale >= patience };
}

export const DIVERGENCE = {
  /** Training loss (smoothed) this many times its best (smoothed) value: diverging. */
  ratio: 1.3,
  /** Points in the moving mean that smooths the loss (minibatch noise is not divergence). */
  window: 10,
} as const;

export type Divergence =
  | { kind: 'non-finite'; step: number }
  | { kind: 'rising'; step: number; loss: number; best: number; bestStep: number }
  | { kind: 'collapsed'; step: number; loss: number; since: number };

/** Losses this close to the chance level, `window` in a row: collapsed (minibatch losses of a working model never repeat so exactly). */
const COLLAPSE_TOLERANCE = 1e-3;

/**
 * Whether a training loss curve diverges: a loss that is NaN or infinite, or a moving mean of the
 * loss well above its lowest moving mean so far (DIVERGENCE.ratio), or, given the loss of chance
 * (ln of the batch size for a contrastive loss), the last `window` losses pinned at it: far too
 * high a learning rate makes every input score the same, so the loss falls to chance and stays
 * there exactly. Null while none of these.
 */
export function divergence(
  points: readonly { step: number; loss?: number | null | undefined }[],
  rules: Partial<typeof DIVERGENCE> = {},
  o: { chanceLoss?: number | null | undefined } = {},
): Divergence | null {
  const r = { ...DIVERGENCE, ...rules };
  const pts = points.filter((p) => p.loss !== undefined && p.loss !== null) as { step: number; loss: number }[];
  const bad = pts.find((p) => !Number.isFinite(p.loss));
  if (bad) return { kind: 'non-finite', step: bad.step };
  const chance = o.chanceLoss;
  if (chance !== undefined && chance !== null && chance > 0 && pts.length >= r.window) {
    const at = (p: { loss: number }) => Math.abs(p.loss - chance) <= COLLAPSE_TOLERANCE;
    if (pts.slice(-r.window).every(at)) {
      let first = pts.length - 1;
      while (first > 0 && at(pts[first - 1]!)) first--;
      return { kind: 'collapsed', step: pts.at(-1)!.step, loss: chance, since: pts[first]!.step };
    }
  }
  if (pts.length < 2 * r.window) return null;
  let sum = 0;
  let best = Infinity;
  let bestStep = 0;
  let mean = 0;
  for (let i = 0; i < pts.length; i++) {
    sum += pts[i]!.loss;
    if (i >= r.window) sum -= pts[i - r.window]!.loss;
    if (i < r.window - 1) continue;
    mean = sum / r.window;
    if (mean < best) {
      best = mean;
      bestStep = pts[i]!.step;
    }
  }
  const last = pts.at(-1)!;
  // Losses near zero (a separable toy task) rise by ratios that mean nothing: also ask for an absolute rise.
  if (mean > best * r.ratio && mean - best > 0.05) return { kind: 'rising', step: last.step, loss: mean, best, bestStep };
  return null;
}

/** One sentence for a divergence, for the run's warning. */
export function divergenceMessage(d: Divergence): string {
  if (d.kind === 'collapsed')
    return `Training collapsed: the loss has stayed at chance (${d.loss.toFixed(2)}) since update ${d.since}: every input scores the same. The learning rate is far too high; lower it and start again.`;
  return d.kind === 'non-finite'
    ? `Training diverged: the loss is not a number (NaN or infinite) from update ${d.step}. Lower the learning rate and start again.`
    : `Training may be diverging: the training loss rose to ${d.loss.toFixed(2)} at update ${d.step}, from its best ${d.best.toFixed(2)} at update ${d.bestStep}. Consider a lower learning rate.`;
}

/** How a training run ended, for its result: "300 updates", "stopped early at update 120 of 300: … (best at update 60, kept)". */
export function stoppingSummary(r: {
  steps: number;
  stoppedEarly: boolean;
  bestStep?: number | null | undefined;
  plannedSteps?: number | null | undefined;
}): string {
  const best = r.bestStep !== undefined && r.bestStep !== null && r.bestStep !== r.steps ? ` (best at update ${r.bestStep}, kept)` : '';
  const of = r.plannedSteps ? ` of ${r.plannedSteps}` : '';
  return r.stoppedEarly ? `stopped early at update ${r.steps}${of}: validation stalled${best}` : `${r.steps} updates${best}`;
}
