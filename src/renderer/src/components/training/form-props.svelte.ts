// What every training form receives from the Training page, and the start of its job: one call
// at a time, the job shown in the jobs list at once, a refusal kept for the form to show.
import type { Task } from '../../../../common/contract';
import type { Job } from '../../../../common/jobs';
import type { ModelRecord } from '../../../../common/models';
import type { RendererClient } from '../../lib/client';
import { datedName, errorText, freeName } from '../../lib/form';

export interface TrainingFormProps {
  bundles: ModelRecord[];
  tasks: Task[];
  modelId: number | null;
  taskId: number | null;
  /** A job of this kind is running: one at a time per form. */
  running: boolean;
  onstarted: (job: Job) => void;
}

/** The name of what a job creates: a default until the user types one, and again after a start (the name is taken then). */
export class ArtefactName {
  value = $state('');
  private edited = false;

  suggest(name: string): void {
    if (!this.edited) this.value = name;
  }
  typed(): void {
    this.edited = true;
  }
  release(): void {
    this.edited = false;
  }
}

export class JobStarter {
  starting = $state(false);
  error = $state<string | null>(null);

  constructor(
    private readonly track: (call: () => Promise<Job>) => Promise<Job>,
    private readonly name?: ArtefactName,
  ) {}

  async start(call: () => Promise<Job>, onstarted: (job: Job) => void): Promise<void> {
    this.starting = true;
    this.error = null;
    try {
      const job = await this.track(call);
      this.name?.release();
      onstarted(job);
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.starting = false;
    }
  }
}

/**
 * The names a bundle already holds (prompt sets or adaptors), so a form can refuse a clash before
 * the job would, and offer a free default (today's name, then -2, -3, …) until the user types one.
 */
export class TakenNames {
  names = $state<string[]>([]);

  constructor(
    private readonly client: RendererClient,
    private readonly pick: (bundle: { promptSets: { name: string }[]; adaptors: { name: string }[] }) => string[],
  ) {}

  async load(modelId: number | null): Promise<void> {
    if (modelId === null) {
      this.names = [];
      return;
    }
    try {
      const r = await this.client.invoke('models.inspect', { id: modelId });
      this.names = r.inspection.bundle ? this.pick(r.inspection.bundle) : [];
    } catch {
      this.names = []; // the job still refuses a clash with a clear message
    }
  }

  free(base: string): string {
    return freeName(base, this.names);
  }
}

/**
 * The name of something a job adds to a bundle (a prompt set, an adaptor): today's dated default,
 * never one the bundle holds, until the user types one. Call `reload` when the bundle changes or a
 * job of the form ends (it may have taken the name).
 */
export class BundleArtefactName extends ArtefactName {
  readonly taken: TakenNames;

  constructor(
    client: RendererClient,
    pick: (bundle: { promptSets: { name: string }[]; adaptors: { name: string }[] }) => string[],
    private readonly stem: string,
  ) {
    super();
    this.taken = new TakenNames(client, pick);
    this.suggest(datedName(stem));
  }

  async reload(modelId: number | null): Promise<void> {
    await this.taken.load(modelId);
    this.suggest(this.taken.free(datedName(this.stem)));
  }
}
