// The viewer's one-click zero-shot session: which bundle and prompt set (the shared chooser), the
// open study's predictions (cached from an earlier run of the same model, task and prompt set, or fresh), and
// the classify job while it runs. A one-study classify job costs about 1.2 s on the quick demo
// model (0.7 s of it starting the job's worker), so the viewer uses the ordinary job: progress,
// cancel and the run record come with it.
import { isJobOf, type Job } from '../../../../common/jobs';
import type { Prediction, Run } from '../../../../common/runs';
import { ClassifyChooser } from '../classify-chooser.svelte';
import type { RendererClient } from '../client';
import type { JobsStore } from '../stores/jobs.svelte';

export interface ShownRun {
  studyId: number;
  taskId: number;
  run: Run;
  predictions: Prediction[];
  /** 'cached': an earlier run, shown without classifying; 'new': this click's run. */
  source: 'cached' | 'new';
  /** Click to bars, for a fresh run. */
  seconds: number | null;
}

export class ViewerClassifySession extends ClassifyChooser {
  private readonly jobs: JobsStore;
  shown = $state.raw<ShownRun | null>(null);
  /** The study and task a lookup or job is for; answers for anything else are dropped. */
  private want: { studyId: number; taskId: number } | null = null;
  jobId = $state<number | null>(null);
  private jobStartedAt = 0;
  private jobFor: { studyId: number; taskId: number; modelId: number; promptSet: string } | null = null;
  error = $state<string | null>(null);
  checking = $state(false);

  // Getters over state: reactive wherever they are read (template, $derived, $effect).
  get job(): Job | null {
    return this.jobId === null ? null : (this.jobs.jobs.find((j) => j.id === this.jobId) ?? null);
  }
  get busy(): boolean {
    const job = this.job;
    return job !== null && (job.status === 'queued' || job.status === 'running');
  }

  constructor(client: RendererClient, jobs: JobsStore) {
    super(client, { remember: true });
    this.jobs = jobs;
  }

  override async loadBundles(): Promise<void> {
    try {
      await super.loadBundles();
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
  }

  /** Shows the study's predictions from the newest run of this model, task and prompt set, if any. */
  async showCached(studyId: number, taskId: number): Promise<void> {
    this.want = { studyId, taskId };
    this.error = null;
    if (this.shown && (this.shown.studyId !== studyId || this.shown.taskId !== taskId)) this.shown = null;
    const modelId = this.modelId;
    const promptSet = this.promptSet;
    if (modelId === null) return;
    this.checking = true;
    try {
      const found = await this.client.invoke('runs.studyPredictions', { studyId, taskId, modelId, promptSet: promptSet || null });
      if (!this.isWanted(studyId, taskId) || modelId !== this.modelId || promptSet !== this.promptSet) return;
      this.shown = found ? { studyId, taskId, run: found.run, predictions: found.predictions, source: 'cached', seconds: null } : null;
    } catch (err) {
      if (this.isWanted(studyId, taskId)) this.error = err instanceof Error ? err.message : String(err);
    } finally {
      this.checking = false;
    }
  }

  /** Starts a classify job for the open study; `settle` shows its run when it is done. */
  async classify(studyId: number, taskId: number): Promise<void> {
    const modelId = this.modelId;
    if (modelId === null || this.busy) return;
    this.want = { studyId, taskId };
    this.error = null;
    this.jobStartedAt = performance.now();
    this.jobFor = { studyId, taskId, modelId, promptSet: this.promptSet };
    try {
      const job = await this.jobs.track(() =>
        this.client.invoke('classify.start', { taskId, studyIds: [studyId], modelId, promptSet: this.promptSet || null }),
      );
      this.jobId = job.id;
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
  }

  cancel(): void {
    if (this.jobId !== null) void this.jobs.cancel(this.jobId).catch(() => undefined);
  }

  /** Called when the tracked job changes: a finished job's run is fetched and shown. */
  async settle(job: Job): Promise<void> {
    const asked = this.jobFor;
    if (job.id !== this.jobId || !asked) return;
    if (job.status === 'failed' || job.status === 'cancelled' || job.status === 'interrupted') {
      this.jobId = null;
      if (job.status === 'failed') this.error = job.error ?? 'classification failed';
      return;
    }
    if (job.status !== 'done') return;
    this.jobId = null;
    const runId = isJobOf(job, 'classify') ? job.result?.runId : undefined;
    if (runId === undefined) return;
    try {
      const found = await this.client.invoke('runs.studyPredictions', { studyId: asked.studyId, taskId: asked.taskId, runId });
      if (!this.isWanted(asked.studyId, asked.taskId)) return;
      if (!found) {
        this.error =
          'the run has no prediction for this study: it has no image for presentation (FOR PROCESSING images are not classified)';
        return;
      }
      const seconds = (performance.now() - this.jobStartedAt) / 1000;
      this.shown = { studyId: asked.studyId, taskId: asked.taskId, run: found.run, predictions: found.predictions, source: 'new', seconds };
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
  }

  private isWanted(studyId: number, taskId: number): boolean {
    return this.want?.studyId === studyId && this.want.taskId === taskId;
  }
}
