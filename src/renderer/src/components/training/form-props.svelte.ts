// What every training form receives from the Training page, and the start of its job: one call
// at a time, the job shown in the jobs list at once, a refusal kept for the form to show.
import type { Task } from '../../../../common/contract';
import type { Job } from '../../../../common/jobs';
import type { ModelRecord } from '../../../../common/models';
import { errorText } from '../../lib/form';

export interface TrainingFormProps {
  bundles: ModelRecord[];
  tasks: Task[];
  modelId: number | null;
  taskId: number | null;
  /** A job of this kind is running: one at a time per form. */
  running: boolean;
  onstarted: (job: Job) => void;
}

export class JobStarter {
  starting = $state(false);
  error = $state<string | null>(null);

  constructor(private readonly track: (call: () => Promise<Job>) => Promise<Job>) {}

  async start(call: () => Promise<Job>, onstarted: (job: Job) => void): Promise<void> {
    this.starting = true;
    this.error = null;
    try {
      onstarted(await this.track(call));
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.starting = false;
    }
  }
}
