// Every job kind's result has a schema (src/common/jobs.ts `jobKinds`); the worker checks a result
// against it before the job is marked done, so the record's result is what the contract types.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jobKinds, type JobKind } from '../../../../src/common/jobs';
import { EventBus } from '../../../../src/main/events/event-bus';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../../src/main/db/database';
import { JobsRepo } from '../../../../src/main/db/jobs-repo';
import { JobQueue } from '../../../../src/main/jobs/job-queue';
import { checkedResult } from '../../../../src/main/jobs/job-result';
import { jobRunners, type JobRunners } from '../../../../src/main/jobs/kinds/index';
import { inProcessWorker } from '../../../helpers/job-worker';
import { makeFileTree, removeTmpDirs, tmpDir } from '../../../helpers/tmp';

// One real result of every kind, recorded by test/fixtures/job-results/capture.ts (a quick demo
// library, then each kind on it). Every job test that runs a real worker checks its own result too.
const FIXTURES = fileURLToPath(new URL('../../../fixtures/job-results/', import.meta.url));
const KINDS = Object.keys(jobKinds) as JobKind[];
const realResult = (kind: JobKind): unknown => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${kind}.json`), 'utf8'));

let db: Db | undefined;
let queue: JobQueue | undefined;
afterEach(() => {
  queue?.close();
  db?.close();
  queue = db = undefined;
});
afterAll(removeTmpDirs);

function startQueue(runners: JobRunners): JobQueue {
  const dataDir = tmpDir();
  db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  queue = new JobQueue({ db, dataDir, launch: inProcessWorker(runners), events: new EventBus() });
  queue.start();
  return queue;
}

describe('job results', () => {
  it.each(KINDS)('a real %s result matches its schema, field for field', (kind) => {
    const result = realResult(kind);
    expect(checkedResult(kind, result)).toEqual(result);
  });

  it('names the kind and the path of what does not match', () => {
    const classify = realResult('classify') as Record<string, unknown>;
    expect(() => checkedResult('classify', { ...classify, runId: '4' })).toThrow(
      /^the classify job ended with a result outside its schema \(runId: Invalid input: expected number, received string\)$/,
    );
    expect(() => checkedResult('classify', { ...classify, skipped: [{ instanceId: 3 }] })).toThrow(/\(skipped\[0\]\.reason: /);
    // A field the schema does not name is refused too: the schema is the one definition of the result.
    expect(() => checkedResult('classify', { ...classify, extra: 1 })).toThrow(/\(\(result\): Unrecognized key: "extra"\)/);
    expect(() => checkedResult('hash-folder', undefined)).toThrow(/the hash-folder job .*\(\(result\): /);
    // What is checked is what SQLite keeps: JSON (NaN has no JSON form and reads as null).
    expect(() => checkedResult('train-lora', { ...(realResult('train-lora') as object), loss: { first: NaN, last: 1 } })).toThrow(
      /\(loss\.first: Invalid input: expected number, received null\)/,
    );
  });

  it('fails a job whose result does not match, with the message, and marks the real one done', async () => {
    const q = startQueue({
      ...jobRunners,
      'hash-folder': async (ctx) =>
        ctx.params.folder.endsWith('real') ? jobRunners['hash-folder'](ctx) : ({ folder: ctx.params.folder, files: 'three' } as never),
    });
    const folder = makeFileTree(3, 100);
    const real = path.join(folder, 'real');
    fs.mkdirSync(real);
    const bad = await q.waitFor(q.enqueue({ kind: 'hash-folder', params: { folder } }).id);
    expect(bad.status).toBe('failed');
    expect(bad.result).toBeNull();
    expect(bad.error).toBe(
      'the hash-folder job ended with a result outside its schema (files: Invalid input: expected number, received string; bytes: Invalid input: expected number, received undefined; digest: Invalid input: expected string, received undefined; …)',
    );
    // The failure is stored: another reader sees the same.
    expect(new JobsRepo(db!).get(bad.id)).toMatchObject({ status: 'failed', error: bad.error, result: null });

    const good = await q.waitFor(q.enqueue({ kind: 'hash-folder', params: { folder: real } }).id);
    expect(good.status).toBe('done');
    if (good.kind !== 'hash-folder' || !good.result) throw new Error('a hash-folder job with a result');
    expect(good.result.files).toBe(0); // typed by the kind: no cast
    expect(checkedResult('hash-folder', good.result)).toEqual(good.result);
  });

  it('reads a result stored in another shape (an older version) as no result, and keeps the job', () => {
    const dataDir = tmpDir();
    db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    const repo = new JobsRepo(db);
    const id = repo.insert('classify', { modelId: 1, taskId: 1, studyIds: [1] });
    repo.finish(id, 'done', { result: { runId: 7 }, message: 'Done' });
    expect(repo.get(id)).toMatchObject({ id, kind: 'classify', status: 'done', result: null });
    const ok = repo.insert('classify', { modelId: 1, taskId: 1, studyIds: [1] });
    repo.finish(ok, 'done', { result: realResult('classify'), message: 'Done' });
    expect(repo.get(ok)?.result).toEqual(realResult('classify'));
  });

  it('leaves a kind this version does not know (queued by a newer version) out of lists and never starts it', () => {
    const dataDir = tmpDir();
    db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    const repo = new JobsRepo(db);
    const future = repo.insert('classify', { modelId: 1, taskId: 1, studyIds: [1] });
    // The kind column as a newer version would have written it (insert() only takes known kinds).
    db.prepare(`UPDATE jobs SET kind = 'archive-retrieve' WHERE id = ?`).run(future);
    const known = repo.insert('hash-folder', { folder: dataDir });
    expect(repo.get(future)).toBeUndefined();
    expect(repo.list({ limit: 10 }).map((j) => j.id)).toEqual([known]);
    expect(repo.unsettledOr([future]).map((j) => j.id)).toEqual([known]);
    expect(repo.nextQueued()?.id).toBe(known);
  });
});
