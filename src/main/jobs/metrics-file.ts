// A job's training curve on disk: metrics.jsonl in its folder, one JSON point per line and one point
// per step. A resumed job replays the steps after its last checkpoint; their new points replace the
// ones the cut-off run wrote (and everything after them), so no step appears twice.
import fs from 'node:fs';
import { MetricPoint } from '../../common/jobs';
import { writeFileAtomic } from '../../native/io/atomic-write';

/** Training curves of a job, one JSON point per line, in its folder. */
export const METRICS_FILE = 'metrics.jsonl';

/** The points of `file` in step order, one per step (later lines complete or override earlier ones). */
export function readMetrics(file: string): MetricPoint[] {
  if (!fs.existsSync(file)) return [];
  const byStep = new Map<number, MetricPoint>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const point = parseMetricLine(line);
    if (point) byStep.set(point.step, { ...byStep.get(point.step), ...point });
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/**
 * `point` without its non-finite numbers (the loss before the first update is NaN): JSON has no NaN,
 * and a stored null would make the whole point unreadable. A non-finite loss after an update is
 * kept as `lossNotFinite`, so the run can warn that training diverged.
 */
export function finitePoint(point: MetricPoint): MetricPoint {
  const out: MetricPoint = { step: point.step };
  if (Number.isFinite(point.loss)) out.loss = point.loss!;
  // Before the first update (step 0) there is no loss yet; after one, a non-finite loss is divergence.
  else if (point.loss !== undefined && point.step > 0) out.lossNotFinite = true;
  if (Number.isFinite(point.lr)) out.lr = point.lr!;
  if (point.val) out.val = Object.fromEntries(Object.entries(point.val).filter(([, v]) => Number.isFinite(v)));
  return out;
}

/** The point on one line of the file; null for a blank line or one cut by a crash. */
export function parseMetricLine(line: string): MetricPoint | null {
  if (line.trim().length === 0) return null;
  try {
    return MetricPoint.parse(JSON.parse(line));
  } catch {
    return null;
  }
}

/** Appends the points of one run of a job. */
export class MetricsWriter {
  /** The last step in the file; null until read (on the first point). */
  private lastStep: number | null = null;

  constructor(private readonly file: string) {}

  add(point: MetricPoint): void {
    this.lastStep ??= readMetrics(this.file).at(-1)?.step ?? -1;
    if (point.step > this.lastStep) {
      fs.appendFileSync(this.file, `${JSON.stringify(point)}\n`);
    } else {
      // A replayed step (after a resume) or a second point of the same step (validation after the
      // last update): drop what the file has after it and merge the point into its step.
      const kept = readMetrics(this.file).filter((p) => p.step <= point.step);
      const at = kept.findIndex((p) => p.step === point.step);
      if (at >= 0) kept[at] = { ...kept[at]!, ...point };
      else kept.push(point);
      writeFileAtomic(this.file, kept.map((p) => `${JSON.stringify(p)}\n`).join(''));
    }
    this.lastStep = point.step;
  }
}
