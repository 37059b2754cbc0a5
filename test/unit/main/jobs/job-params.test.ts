// Every job kind's params have a schema (src/common/jobs.ts `jobKinds`): a job is refused when it is
// queued with params outside it, a stored row in another shape fails its own job naming the job and
// the field (and breaks no list), and the contract's job record carries params typed by its kind.
import path from 'node:path';
import { afterAll, afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { CleftError } from '../../../../src/common/errors';
import {
  isJobOf,
  type ClassifyParams,
  type Job,
  type JobOf,
  type PromptLearnParams,
  type TrainAdaptorParams,
  type TrainLoraParams,
} from '../../../../src/common/jobs';
import { EventBus } from '../../../../src/main/events/event-bus';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../../src/main/db/database';
import { JobsRepo } from '../../../../src/main/db/jobs-repo';
import { JobQueue } from '../../../../src/main/jobs/job-queue';
import { checkedParams } from '../../../../src/main/jobs/job-params';
import { jobRunners } from '../../../../src/main/jobs/kinds/index';
import { inProcessWorker } from '../../../helpers/job-worker';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

let db: Db | undefined;
let queue: JobQueue | undefined;
afterEach(() => {
  queue?.close();
  db?.close();
  queue = db = undefined;
});
afterAll(removeTmpDirs);

function openLibrary(): { dataDir: string; repo: JobsRepo } {
  const dataDir = tmpDir();
  db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  return { dataDir, repo: new JobsRepo(db) };
}

function startQueue(dataDir: string): JobQueue {
  queue = new JobQueue({ db: db!, dataDir, launch: inProcessWorker(jobRunners), events: new EventBus() });
  queue.start();
  return queue;
}

describe('job params', () => {
  it('reads params through the kind schema (defaults filled in) and names the field that does not fit', () => {
    expect(checkedParams('classify', { modelId: 1, taskId: 2, studyIds: [3] })).toEqual({
      modelId: 1,
      taskId: 2,
      studyIds: [3],
      promptSet: null,
      adaptor: null,
    });
    expect(() => checkedParams('classify', { modelId: '1', taskId: 2, studyIds: [3] })).toThrow(
      /^the parameters of a classify job do not fit its schema \(modelId: Invalid input: expected number, received string\)$/,
    );
    expect(() => checkedParams('import', { paths: ['/a', 7] })).toThrow(/\(paths\[1\]: Invalid input: expected string, received number\)$/);
    expect(() => checkedParams('demo', null)).toThrow(/\(\(params\): Invalid input: expected object, received null\)$/);
    // A stored row names its job.
    expect(() => checkedParams('train-lora', { modelId: 1 }, 42)).toThrow(
      /^job 42 \(train-lora\): its stored parameters do not fit the kind's schema \(name: Invalid input: expected string, received undefined\)$/,
    );
  });

  it('refuses to queue a job whose params do not fit (invalid_input), and stores nothing', () => {
    const { dataDir, repo } = openLibrary();
    const q = startQueue(dataDir);
    let error: unknown;
    try {
      q.enqueue({ kind: 'hash-folder', params: { folder: '' } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CleftError);
    expect(error).toMatchObject({
      code: 'invalid_input',
      message: 'the parameters of a hash-folder job do not fit its schema (folder: folder is required)',
    });
    expect(repo.list({ limit: 10 })).toEqual([]);
  });

  it('fails a job whose stored params do not fit, naming the job and the field; lists read its params as null', async () => {
    const { dataDir, repo } = openLibrary();
    // Rows as another version (or a hand) could have left them: the repository stores what it is given.
    const bad = repo.insert('classify', { modelId: 'one', taskId: 1, studyIds: [1] });
    const missing = repo.insert('prompt-learn', { modelId: 1, taskId: 1 });
    expect(repo.list({ limit: 10 }).map((j) => [j.id, j.kind, j.params])).toEqual([
      [missing, 'prompt-learn', null],
      [bad, 'classify', null],
    ]);
    const q = startQueue(dataDir);
    const failed = await q.waitFor(bad);
    expect(failed).toMatchObject({ status: 'failed', params: null, result: null });
    expect(failed.error).toBe(
      `job ${bad} (classify): its stored parameters do not fit the kind's schema (modelId: Invalid input: expected number, received string)`,
    );
    const second = await q.waitFor(missing);
    expect(second.status).toBe('failed');
    expect(second.error).toMatch(
      new RegExp(`^job ${missing} \\(prompt-learn\\): its stored parameters do not fit the kind's schema \\(name: `),
    );
    // The failure is stored: another reader sees the same, and the row itself is left as it was.
    expect(new JobsRepo(db!).get(bad)).toMatchObject({ status: 'failed', error: failed.error });
    expect(repo.storedParams(bad)).toEqual({ modelId: 'one', taskId: 1, studyIds: [1] });
  });

  it('reads a stored row through its kind schema: the record carries the params typed by the kind', () => {
    const { repo } = openLibrary();
    const id = repo.insert('classify', { modelId: 1, taskId: 2, studyIds: [3] });
    const job = repo.get(id);
    if (!isJobOf(job, 'classify')) throw new Error('a classify job');
    expect(job.params).toEqual({ modelId: 1, taskId: 2, studyIds: [3], promptSet: null, adaptor: null });
    // Typed per kind, no casts: what the renderer reads (Training, LoraPanel, the Jobs drawer).
    expectTypeOf(job.params).toEqualTypeOf<ClassifyParams | null>();
    expectTypeOf<JobOf<'prompt-learn'>['params']>().toEqualTypeOf<PromptLearnParams | null>();
    expectTypeOf<JobOf<'train-adaptor'>['params']>().toEqualTypeOf<TrainAdaptorParams | null>();
    expectTypeOf<JobOf<'train-lora'>['params']>().toEqualTypeOf<TrainLoraParams | null>();
    const name = (j: Job): string | undefined => (isJobOf(j, 'train-lora') ? j.params?.name : undefined);
    expectTypeOf(name).returns.toEqualTypeOf<string | undefined>();
  });
});
