// The viewer's "where the model looks" state: on or off, which class, opacity, and the maps of the
// open study's images (one short explain job per image, with the Classify panel's model and
// prompt set). Maps are kept per instance, model, task and prompt set.
import { ExplainResult } from '../../../../common/jobs';
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

  /** Computes the maps still missing for these images, one job each. */
  async compute(instanceIds: number[], modelId: number, taskId: number, promptSet: string): Promise<void> {
    const generation = ++this.generation;
    const missing = instanceIds.filter((id) => !(ViewerExplainSession.key(id, modelId, taskId, promptSet) in this.results));
    if (missing.length === 0) return;
    this.busy = true;
    this.error = null;
    try {
      for (const [i, instanceId] of missing.entries()) {
        if (generation !== this.generation) return;
        this.progress = `Patch maps: image ${i + 1} of ${missing.length}…`;
        let job = await this.client.invoke('explain.start', { modelId, taskId, instanceId, promptSet: promptSet || null });
        while (!FINISHED.has(job.status)) {
          await new Promise((r) => setTimeout(r, 250));
          job = await this.client.invoke('jobs.get', { id: job.id });
        }
        if (job.status !== 'done') throw new Error(job.error ?? `the patch-map job ended ${job.status}`);
        const result = ExplainResult.parse(job.result);
        this.results = { ...this.results, [ViewerExplainSession.key(instanceId, modelId, taskId, promptSet)]: result };
        // Another prompt set or task may name other classes: a choice it does not have falls back.
        if (this.className === null || !result.classNames.includes(this.className)) this.className = result.classNames[0] ?? null;
      }
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    } finally {
      if (generation === this.generation) {
        this.busy = false;
        this.progress = '';
      }
    }
  }
}
