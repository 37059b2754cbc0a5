// The training curve of one job: the points saved so far (jobs.metrics) merged with the live
// job.metric events, so the chart is whole after a reload and grows while the job runs.
import type { MetricPoint } from '../../../common/jobs';
import type { RendererClient } from './client';
import type { Series } from '../components/charts/palette';
import { classColour } from '../components/charts/palette';
import { metricLabel } from './metrics';

/** "accuracy", "macro AUC", "Recall@1 image→text": the legend reads as a phrase after "Validation". */
function plainName(key: string): string {
  const label = metricLabel(key);
  return /^[A-Z][a-z]/.test(label) && !label.includes('@') ? label.toLowerCase().replace('auc', 'AUC') : label;
}

export class JobCurve {
  jobId = $state<number | null>(null);
  points = $state<MetricPoint[]>([]);

  constructor(private readonly client: RendererClient) {}

  /** Follows job.metric events; returns the unsubscribe (for onMount). */
  listen(): () => void {
    return this.client.on('job.metric', ({ jobId, point }) => {
      if (jobId !== this.jobId) return;
      this.points = [...this.points.filter((p) => p.step !== point.step), point].sort((a, b) => a.step - b.step);
    });
  }

  async show(id: number): Promise<void> {
    this.jobId = id;
    this.points = [];
    try {
      const saved = await this.client.invoke('jobs.metrics', { id });
      if (this.jobId !== id) return;
      // Events that arrived while asking are kept; the saved curve fills in what came before.
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a one-off lookup, not state
      const seen = new Set(this.points.map((p) => p.step));
      this.points = [...saved.filter((p) => !seen.has(p.step)), ...this.points].sort((a, b) => a.step - b.step);
    } catch {
      // A job without a curve yet: events will fill it.
    }
  }

  /** Training loss, and with `valLoss` the validation loss, as chart series. */
  lossSeries(valLoss = false): Series[] {
    const out: Series[] = [
      {
        name: 'Training loss',
        colour: classColour(0),
        points: this.points.filter((p) => p.loss !== undefined).map((p) => [p.step, p.loss!] as [number, number]),
      },
    ];
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
