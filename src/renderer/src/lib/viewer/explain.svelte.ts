// The viewer's "where the model looks" state: on or off, which class, opacity, and the maps of the
// open study's images (one short explain job for the images still missing, one press of M, with the
// Classify panel's model and prompt set). Maps are kept per instance, model, task and prompt set.
import { ExplainStudyResult } from '../../../../common/jobs';
import type { ExplainResult } from '../../../../common/jobs';
import type { RendererClient } from '../client';
import type { HeatmapLayer } from './explain';

const FINISHED = new Set(['done', 'failed', 'cancelled', 'interrupted']);

export class ViewerExplainSession {
  private readonly client: RendererClient;
  enabled = $state(false);
  className = $state<string | null>(null);
  opacity = $state(0.45);
  busy = $state(false);
  progress = $state('');
  error = $state<string | null>(null);
  results = $state.raw<Readonly<Record<string, ExplainResult>>>({});
  private generation = 0;

  constructor(client: RendererClient) {
    this.client = client;
  }

  static key(instanceId: number, modelId: number, taskId: number, promptSet: string): string {
    return `${instanceId}:${modelId}:${taskId}:${promptSet}`;
  }

  /** The layer for one viewport, or null when off or not computed. */
  layer(instanceId: number | undefined, modelId: number | null, taskId: number | null, promptSet: string): HeatmapLayer | null {
    if (!this.enabled || instanceId === undefined || modelId === null || taskId === null) return null;
    const result = this.results[ViewerExplainSession.key(instanceId, modelId, taskId, promptSet)];
    if (!result) return null;
    const i = Math.max(0, this.className === null ? 0 : result.classNames.indexOf(this.className));
    return { result, classIndex: i, opacity: this.opacity };
  }

  /** The running job, for its Cancel. */
  jobId = $state<number | null>(null);

  /** Computes the maps still missing for these images (of one study), in one job. */
  async compute(instanceIds: number[], modelId: number, taskId: number, promptSet: string): Promise<void> {
    const generation = ++this.generation;
    const missing = instanceIds.filter((id) => !(ViewerExplainSession.key(id, modelId, taskId, promptSet) in this.results));
    if (missing.length === 0) return;
    this.busy = true;
    this.error = null;
    try {
      this.progress = `Patch maps: ${missing.length} images…`;
      let job = await this.client.invoke('explain.start', { modelId, taskId, instanceIds: missing, promptSet: promptSet || null });
      this.jobId = job.id;
      while (!FINISHED.has(job.status)) {
        await new Promise((r) => setTimeout(r, 250));
        job = await this.client.invoke('jobs.get', { id: job.id });
        if (generation === this.generation && job.status === 'running') this.progress = job.progress.message || this.progress;
      }
      if (job.status === 'cancelled') return;
      if (job.status !== 'done') throw new Error(job.error ?? `the patch-map job ended ${job.status}`);
      const result = ExplainStudyResult.parse(job.result);
      const add: Record<string, ExplainResult> = {};
      for (const r of result.images) add[ViewerExplainSession.key(r.instanceId, modelId, taskId, promptSet)] = r;
      this.results = { ...this.results, ...add };
      // Another prompt set or task may name other classes: a choice it does not have falls back.
      if (this.className === null || !result.classNames.includes(this.className)) this.className = result.classNames[0] ?? null;
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    } finally {
      if (generation === this.generation) {
        this.busy = false;
        this.progress = '';
        this.jobId = null;
      }
    }
  }

  /** Cancels the running job (the maps it had not finished are not kept; M asks again). */
  async cancel(): Promise<void> {
    if (this.jobId !== null) await this.client.invoke('jobs.cancel', { id: this.jobId });
  }
}
