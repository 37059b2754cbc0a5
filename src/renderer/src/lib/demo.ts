// The offline demo job's result as the first-run card shows it.
/** What the demo job reports when done (src/main/jobs/kinds/demo.ts DemoJobResult), read defensively. */
export interface DemoOutcome {
  modelId: number | null;
  studies: number;
  labels: number;
  promptSet: string | null;
  seconds: number | null;
  /** Per exam (views' probabilities averaged), on held-out phantoms. */
  zeroShotAccuracy: number | null;
  learnedAccuracy: number | null;
  /** Per image: the harder figure, and the one the demo's prompt learning moves most. */
  zeroShotImageAccuracy: number | null;
  learnedImageAccuracy: number | null;
}

function rec(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}
function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function demoOutcome(result: unknown): DemoOutcome | null {
  const r = rec(result);
  if (!r) return null;
  return {
    modelId: num(r.modelId),
    studies: num(r.studies) ?? 0,
    labels: num(r.labels) ?? 0,
    promptSet: typeof r.promptSet === 'string' ? r.promptSet : null,
    seconds: num(r.seconds),
    zeroShotAccuracy: num(rec(rec(r.zeroShot)?.exam)?.accuracy),
    learnedAccuracy: num(rec(rec(r.promptLearned)?.exam)?.accuracy),
    zeroShotImageAccuracy: num(rec(rec(r.zeroShot)?.image)?.accuracy),
    learnedImageAccuracy: num(rec(rec(r.promptLearned)?.image)?.accuracy),
  };
}
