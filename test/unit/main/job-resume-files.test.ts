// What a resumed job leaves in its folder: one curve point per step (the replayed steps replace the
// cut-off run's points) and no temporary files of checkpoints a kill interrupted. A scripted worker
// plays the two runs, so the replay is exactly known.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/main/events/event-bus';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../src/main/db/database';
import { JobQueue } from '../../../src/main/jobs/job-queue';
import type { FromWorker, ToWorker, WorkerChannel } from '../../../src/main/workers/job-protocol';
import { writeFileAtomic } from '../../../src/native/io/atomic-write';
import type { MetricPoint } from '../../../src/common/jobs';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

/** A worker that, on start, sends `script(startMessage)` then exits with `exitCode` (unless it said done). */
function scriptedLauncher(runs: ((start: Extract<ToWorker, { type: 'start' }>) => { send: FromWorker[]; exitCode?: number })[]) {
  const starts: Extract<ToWorker, { type: 'start' }>[] = [];
  return {
    starts,
    launch: (): WorkerChannel => {
      const script = runs.shift();
      if (!script) throw new Error('no more scripted runs');
      let onMessage: (m: FromWorker) => void = () => {};
      let onExit: (code: number) => void = () => {};
      return {
        post: (m) => {
          if (m.type !== 'start') return;
          starts.push(m);
          const { send, exitCode } = script(m);
          setImmediate(() => {
            for (const s of send) onMessage(s);
            if (exitCode !== undefined) onExit(exitCode);
          });
        },
        onMessage: (l) => (onMessage = l),
        onExit: (l) => (onExit = l),
        kill: () => {},
      };
    },
  };
}

const point = (step: number, run: number): FromWorker => ({ type: 'metric', point: { step, loss: run * 100 + step } });

let db: Db | undefined;
let queue: JobQueue | undefined;
afterEach(() => {
  queue?.close();
  db?.close();
});
afterAll(removeTmpDirs);

describe('a resumed job', () => {
  it('keeps one curve point per step, the replayed ones from the resumed run, and no stale temporary files', async () => {
    const dataDir = tmpDir();
    const scripted = scriptedLauncher([
      // Run 1: checkpoints after step 3, trains on to step 6, then its worker dies.
      () => ({ send: [1, 2, 3, 4, 5, 6].map((s) => point(s, 1)), exitCode: 1 }),
      // Run 2 (resumed from the step-3 checkpoint): replays 4..6, goes on to 8, adds validation at 8.
      () => ({
        send: [
          ...[4, 5, 6, 7, 8].map((s) => point(s, 2)),
          { type: 'metric', point: { step: 8, val: { accuracy: 0.75 } } },
          { type: 'done', result: null },
        ],
      }),
    ]);
    db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    queue = new JobQueue({ db, dataDir, launch: scripted.launch, events: new EventBus() });
    queue.start();
    const job = queue.enqueue({ kind: 'hash-folder', params: { folder: dataDir } });
    expect((await queue.waitFor(job.id)).status).toBe('failed');
    expect(queue.metrics(job.id).map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);

    // What a kill during checkpointing leaves: temporary files of writeFileAtomic, in the job folder
    // and in a subfolder (training checkpoints live in jobs/<id>/checkpoint/).
    const jobDir = queue.jobDir(job.id);
    fs.mkdirSync(path.join(jobDir, 'checkpoint'), { recursive: true });
    const stale = [
      path.join(jobDir, '.checkpoint.json.4242.m1abc.x7y8z9.tmp'),
      path.join(jobDir, 'checkpoint', '.checkpoint.json.4242.m1abd.q1w2e3.tmp'),
      path.join(jobDir, 'checkpoint', '.optimizer.bin.17.m1abe.k3j4h5.tmp'),
    ];
    for (const f of stale) fs.writeFileSync(f, 'half a checkpoint');
    writeFileAtomic(path.join(jobDir, 'checkpoint', 'checkpoint.json'), '{"step":3}'); // a real file stays
    const keep = path.join(jobDir, 'notes.tmp'); // not a writeFileAtomic name: not ours to remove
    fs.writeFileSync(keep, 'x');

    queue.resume(job.id);
    expect((await queue.waitFor(job.id)).status).toBe('done');
    for (const f of stale) expect(fs.existsSync(f), f).toBe(false);
    expect(fs.existsSync(path.join(jobDir, 'checkpoint', 'checkpoint.json'))).toBe(true);
    expect(fs.existsSync(keep)).toBe(true);

    const expected: MetricPoint[] = [
      ...[1, 2, 3].map((s) => ({ step: s, loss: 100 + s })),
      ...[4, 5, 6, 7].map((s) => ({ step: s, loss: 200 + s })),
      { step: 8, loss: 208, val: { accuracy: 0.75 } },
    ];
    expect(queue.metrics(job.id)).toEqual(expected);
    // The file itself: one line per step.
    const lines = fs.readFileSync(path.join(jobDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as MetricPoint)).toEqual(expected);
  });
});
