// The training curve of one job: the points saved so far (jobs.metrics) merged with the live
// job.metric events, so the chart is whole after a reload and grows while the job runs.
import type { MetricPoint } from '../../../common/jobs';
import type { RendererClient } from './client';
import type { Series } from '../components/charts/palette';
import { classColour } from '../components/charts/palette';
import { mergeByStep, smoothedCurve } from './curve-points';
import { metricLabel } from './metrics';

/** "accuracy", "macro AUC", "Recall@1 image→text": the legend reads as a phrase after "Validation". */
function plainName(key: string): string {
  const label = metricLabel(key);
  return /^[A-Z][a-z]/.test(label) && !label.includes('@') ? label.toLowerCase().replace('auc', 'AUC') : label;
}

/** How often the live curve is redrawn at most: a fast job sends hundreds of points a second, and
 * redrawing on each one starves the page (its buttons would not hold still long enough to click). */
export const CURVE_FLUSH_MS = 100;

export class JobCurve {
  jobId = $state<number | null>(null);
  points = $state<MetricPoint[]>([]);
  private pending: MetricPoint[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly client: RendererClient) {}

  /** Follows job.metric events, applied in batches; returns the unsubscribe (for onMount). */
  listen(): () => void {
    const off = this.client.on('job.metric', ({ jobId, point }) => {
      if (jobId !== this.jobId) return;
      this.pending.push(point);
      this.flushTimer ??= setTimeout(() => this.flush(), CURVE_FLUSH_MS);
    });
    return () => {
      off();
      this.flush();
    };
  }

  /** Applies the points received since the last flush (a later copy of a step replaces it). */
  flush(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.pending.length === 0) return;
    this.points = mergeByStep(this.points, this.pending);
    this.pending = [];
  }

  async show(id: number): Promise<void> {
    this.jobId = id;
    this.points = [];
    this.pending = [];
    try {
      const saved = await this.client.invoke('jobs.metrics', { id });
      if (this.jobId !== id) return;
      // Events that arrived while asking are kept; the saved curve fills in what came before.
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a one-off lookup, not state
      const seen = new Set([...this.points, ...this.pending].map((p) => p.step));
      this.points = mergeByStep(
        saved.filter((p) => !seen.has(p.step)),
        this.points,
      );
    } catch {
      // A job without a curve yet: events will fill it.
    }
  }

  /** Training loss (and its smoothed trend once long enough), and with `valLoss` the validation loss, as chart series. */
  lossSeries(valLoss = false): Series[] {
    const raw = this.points.filter((p) => p.loss !== undefined).map((p) => [p.step, p.loss!] as [number, number]);
    const trend = smoothedCurve(raw);
    const out: Series[] = [{ name: 'Training loss', colour: classColour(0), points: raw, faint: trend.length > 0 }];
    if (trend.length > 0) out.push({ name: 'Training loss (smoothed)', colour: classColour(0), points: trend });
    if (valLoss) {
      const key = this.valKeys().find((k) => k.includes('loss'));
      if (key) out.push(this.valSeries(key, 'Validation loss', 1, true));
    }
    return out;
  }

  /** Validation metrics on 0..1 (every key without "loss", or the named ones), as chart series. */
  scoreSeries(only?: string[]): Series[] {
    const keys = only ? only.filter((k) => this.valKeys().includes(k)) : this.valKeys().filter((k) => !k.includes('loss'));
    return keys.map((k, i) => this.valSeries(k, `Validation ${plainName(k)}`, i + 1, i > 0));
  }

  valKeys(): string[] {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a one-off lookup, not state
    return [...new Set(this.points.flatMap((p) => Object.keys(p.val ?? {})))];
  }

  private valSeries(key: string, name: string, colour: number, dashed: boolean): Series {
    return {
      name,
      colour: classColour(colour),
      points: this.points.filter((p) => p.val?.[key] !== undefined).map((p) => [p.step, p.val![key]!] as [number, number]),
      dots: true,
      dashed,
    };
  }
}
