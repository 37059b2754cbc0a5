// A process that does not run the library's jobs still streams their training curves: the runner
// (another JobQueue on the same library, with its own database connection) appends the points of a
// scripted worker to metrics.jsonl; the client announces them as job.metric, in order, once each,
// and the last ones before the job's end.
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/main/events/event-bus';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../src/main/db/database';
import { JobQueue } from '../../../src/main/jobs/job-queue';
import type { FromWorker, WorkerChannel } from '../../../src/main/workers/job-protocol';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { until } from '../../helpers/wait';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});
afterAll(removeTmpDirs);

/** One worker whose messages the test sends. */
function remoteControlledWorker() {
  let send: ((m: FromWorker) => void) | null = null;
  return {
    started: () => send !== null,
    send: (m: FromWorker) => send!(m),
    launch: (): WorkerChannel => {
      let listener: (m: FromWorker) => void = () => {};
      return {
        post: (m) => {
          if (m.type === 'start') send = (x) => listener(x);
        },
        onMessage: (l) => (listener = l),
        onExit: () => {},
        kill: () => {},
      };
    },
  };
}

function queueOn(dataDir: string, launch: () => WorkerChannel): { queue: JobQueue; events: EventBus; db: Db } {
  const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  const events = new EventBus();
  const queue = new JobQueue({ db, dataDir, launch, events });
  queue.start();
  closers.push(() => {
    queue.close();
    db.close();
  });
  return { queue, events, db };
}

describe('a client of the job runner', () => {
  it('streams the curve points of a job the runner runs', async () => {
    const dataDir = tmpDir();
    const worker = remoteControlledWorker();
    const runner = queueOn(dataDir, worker.launch);
    const client = queueOn(dataDir, () => {
      throw new Error('a client never starts a worker');
    });
    expect(runner.queue.isRunner).toBe(true);
    expect(client.queue.isRunner).toBe(false);
    const steps: number[] = [];
    const states: string[] = [];
    client.events.subscribe((event, payload) => {
      if (event === 'job.metric') steps.push((payload as { point: { step: number } }).point.step);
      if (event === 'job.updated') states.push((payload as { status: string }).status);
    });

    const job = client.queue.enqueue({ kind: 'hash-folder', params: { folder: dataDir } });
    await until(worker.started, 'the runner starting the queued job');
    for (const step of [1, 2, 3]) worker.send({ type: 'metric', point: { step, loss: 1 / step } });
    await until(() => steps.length >= 3, 'the client streaming the first points');
    expect(steps).toEqual([1, 2, 3]);

    worker.send({ type: 'metric', point: { step: 4, loss: 0.2 } });
    worker.send({ type: 'done', result: null });
    // The client announces the end once its poll sees it, after the points that came before it.
    await until(() => states.includes('done'), 'the client announcing the end');
    expect(steps).toEqual([1, 2, 3, 4]); // the last point too, once
    expect(client.queue.metrics(job.id).map((p) => p.step)).toEqual([1, 2, 3, 4]);
  });
});
