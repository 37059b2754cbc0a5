// What most library and job tests start from: a backend on a temporary data folder (jobs on worker
// threads), a tiny CLEFT bundle (random weights of the demo's quick sizes, the real GPT-2 tokenizer)
// and a folder of exams imported into the library.
import path from 'node:path';
import { createBackend, type Backend } from '../../src/main/api/backend';
import { launchThreadWorker } from '../../src/main/workers/thread-launcher';
import type { MethodOutput } from '../../src/common/contract';
import { defaultTokenizerDir } from '../../src/native/cleft/demo';
import { QUICK_SIZES, writeTinyModels } from '../../src/native/cleft/tiny-models';
import { callApi } from './api';
import { tmpDir } from './tmp';

export function testBackend(dataDir = tmpDir()): Backend {
  return createBackend({ dataDir, launchWorker: launchThreadWorker, host: 'web', version: 'test' });
}

export interface TinyBundle {
  modelId: number;
  /** The bundle folder and its manifest hash. */
  dir: string;
  sha256: string;
  /** The HF folders and heads it was made from. */
  parts: ReturnType<typeof writeTinyModels>;
}

/** Writes tiny text/image models from `seed` and registers them as a bundle (name given or derived). */
export async function addTinyBundle(b: Backend, seed: number, opts: { name?: string; tokenizer?: boolean } = {}): Promise<TinyBundle> {
  const parts = writeTinyModels(tmpDir(), QUICK_SIZES, seed);
  const made = await callApi(b, 'models.createBundle', {
    output: path.join(tmpDir(), 'bundle'),
    ...(opts.name ? { name: opts.name } : {}),
    textModel: parts.text,
    imageModel: parts.image,
    heads: parts.heads,
    ...(opts.tokenizer === false ? {} : { tokenizer: defaultTokenizerDir() }),
  });
  return { modelId: made.model!.id, dir: made.dir, sha256: made.sha256, parts };
}

type StudyRows = MethodOutput<'library.studies'>['rows'];

/** Imports `folder` (waiting for the job; its failure throws) and returns the studies by accession. */
export async function importExams(b: Backend, folder: string): Promise<StudyRows> {
  const job = await b.jobs.waitFor((await callApi(b, 'library.import', { paths: [folder] })).id);
  if (job.error) throw new Error(`importing ${folder} failed: ${job.error}`);
  return (await callApi(b, 'library.studies', { sort: { key: 'accession', dir: 'asc' } })).rows;
}

/** A built-in task by name (Breast density unless given). */
export async function taskNamed(b: Backend, name = 'Breast density'): Promise<MethodOutput<'tasks.list'>[number]> {
  const task = (await callApi(b, 'tasks.list', {})).find((t) => t.name === name);
  if (!task) throw new Error(`no task named ${name}`);
  return task;
}
