// The job queue's workers: one runs a job at a time, and after a job that ended by itself (done,
// failed or cancelled at a check) it stays, warm, for the next. Its engine keeps the model sessions
// it loaded (idle release and memory budget from the Settings), so the next classification or
// embedding finds the encoders loaded instead of creating them again (tens of seconds for a 2.7B
// text encoder). A worker that had to be killed (a cancel past its grace, a shutdown) or that died
// (a native crash in a utility process) is gone with its sessions; the next job gets a new one.
import type { SessionKeepPolicy } from '../../native/runtime/protocol';
import type { FromWorker, ToWorker, WorkerChannel, WorkerEngineStats, WorkerLauncher } from '../workers/job-protocol';

/** What the queue hears from the worker about the job it runs. */
export interface JobWorkerHandlers {
  onMessage(message: FromWorker): void;
  /** The worker ended while running the job (crash, kill). */
  onExit(code: number, reason?: string): void;
}

/** The worker running one job, as the queue holds it. */
export interface JobWorker {
  /** Whether this worker ran an earlier job (its engine may have the models loaded). */
  readonly reused: boolean;
  post(message: ToWorker): void;
  /** The job ended by the worker's own report: keep the worker warm for the next job. */
  release(): void;
  /** Stop the worker (its sessions go with it); its exit still reaches the handlers. */
  kill(): void;
}

interface Live {
  channel: WorkerChannel;
  handlers: JobWorkerHandlers | null;
  alive: boolean;
  jobs: number;
}

export class JobWorkers {
  private warm: Live | null = null;
  private readonly live = new Set<Live>();
  private policy: SessionKeepPolicy | null = null;
  private stats: WorkerEngineStats | null = null;

  constructor(private readonly launch: WorkerLauncher) {}

  /** A worker for the next job: the warm one if there is one, else a new one. */
  take(handlers: JobWorkerHandlers): JobWorker {
    const worker = this.warm ?? this.start();
    this.warm = null;
    worker.handlers = handlers;
    worker.jobs++;
    worker.channel.keepAlive?.(true);
    return {
      reused: worker.jobs > 1,
      post: (m) => {
        if (worker.alive) worker.channel.post(m);
      },
      release: () => {
        if (worker.handlers !== handlers) return;
        worker.handlers = null;
        if (!worker.alive) return;
        worker.channel.keepAlive?.(false); // a warm worker never keeps a CLI from exiting
        this.warm = worker;
      },
      kill: () => this.end(worker),
    };
  }

  /** The kept sessions' idle release and memory budget: sent to every live worker now and to new ones. */
  configure(policy: SessionKeepPolicy): void {
    this.policy = policy;
    for (const w of this.live) w.channel.post({ type: 'configure', policy });
  }

  /** The engine stats the worker last reported (after each job, each configure, each release), or null before any. */
  engineStats(): WorkerEngineStats | null {
    return this.stats;
  }

  /** Whether a warm worker waits for the next job. */
  get hasWarm(): boolean {
    return this.warm !== null;
  }

  /** Stops every worker. */
  close(): void {
    for (const w of [...this.live]) this.end(w);
    this.warm = null;
  }

  private start(): Live {
    const channel = this.launch();
    const worker: Live = { channel, handlers: null, alive: true, jobs: 0 };
    this.live.add(worker);
    channel.onMessage((m) => {
      if (m.type === 'engine') this.stats = m.stats;
      else worker.handlers?.onMessage(m);
    });
    channel.onExit((code, reason) => {
      worker.alive = false;
      this.live.delete(worker);
      if (this.warm === worker) this.warm = null; // a warm worker that died: its sessions are gone
      const handlers = worker.handlers;
      worker.handlers = null;
      handlers?.onExit(code, reason);
    });
    if (this.policy) channel.post({ type: 'configure', policy: this.policy });
    return worker;
  }

  private end(worker: Live): void {
    if (this.warm === worker) this.warm = null;
    this.live.delete(worker);
    if (!worker.alive) return;
    worker.alive = false;
    worker.channel.kill();
  }
}
