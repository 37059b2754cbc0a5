// Jobs as the UI sees them: loaded with jobs.list whenever the event channel (re)opens, then kept
// current by job.updated events. Every copy of a job carries its revision: of two copies the higher
// revision wins, whichever arrived last (a list answer that raced with newer events, a late reply).
import type { Job, JobSpec } from '../../../../common/jobs';
import type { RendererClient } from '../client';
import { compareJobs, isActive } from '../jobs';

const LIST_LIMIT = 50;

export class JobsStore {
  jobs = $state<Job[]>([]);
  loaded = $state(false);
  loadError = $state<string | null>(null);
  readonly active = $derived(this.jobs.filter(isActive));
  readonly recent = $derived(this.jobs.filter((j) => !isActive(j)));
  readonly runningCount = $derived(this.jobs.filter((j) => j.status === 'running' || j.status === 'queued').length);

  constructor(private readonly client: RendererClient) {
    client.on('job.updated', (job) => this.upsert(job));
  }

  async refresh(): Promise<void> {
    try {
      const list = await this.client.invoke('jobs.list', { limit: LIST_LIMIT });
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local scratch map; the array assigned below is the state
      const byId = new Map(this.jobs.map((j) => [j.id, j]));
      for (const job of list) {
        const known = byId.get(job.id);
        // An event newer than this answer already told us more about this job.
        if (known && known.revision > job.revision) continue;
        byId.set(job.id, job);
      }
      this.jobs = [...byId.values()].sort(compareJobs).slice(0, LIST_LIMIT * 2);
      this.loaded = true;
      this.loadError = null;
    } catch (err) {
      this.loadError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Applies a copy of a job unless the one shown is newer (higher revision). */
  upsert(job: Job): void {
    const index = this.jobs.findIndex((j) => j.id === job.id);
    if (index >= 0) {
      if (this.jobs[index]!.revision > job.revision) return;
      this.jobs[index] = job;
    } else this.jobs = [job, ...this.jobs].sort(compareJobs);
  }

  async start(spec: JobSpec): Promise<Job> {
    return this.track(() => this.client.invoke('jobs.start', spec));
  }

  async cancel(id: number): Promise<void> {
    await this.track(() => this.client.invoke('jobs.cancel', { id }));
  }

  async resume(id: number): Promise<void> {
    await this.track(() => this.client.invoke('jobs.resume', { id }));
  }

  /** Runs a call that answers with a job (jobs.*, library.import, ...) and shows that job, unless
   * job.updated events about it overtook the answer (upsert keeps the higher revision). */
  async track(call: () => Promise<Job>): Promise<Job> {
    const job = await call();
    this.upsert(job);
    return job;
  }
}
