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
import { requireDump2dcm, writeFourViewExam } from './dcmtk';
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

/**
 * A library with 3 four-view exams labelled A/B per breast and a tiny CLEFT bundle, its backend
 * closed again (the training kill, save crash and WebGPU resume tests start their jobs elsewhere);
 * `nextJobId` is the id the next job will get.
 */
export async function labelledLibrary(): Promise<{
  dataDir: string;
  modelId: number;
  taskId: number;
  bundleDir: string;
  nextJobId: number;
}> {
  requireDump2dcm();
  const source = tmpDir('cleft-dicom-');
  for (let n = 1; n <= 3; n++) writeFourViewExam(source, n);
  const dataDir = tmpDir();
  const setup = testBackend(dataDir);
  try {
    const density = await taskNamed(setup);
    const made = await addTinyBundle(setup, 4);
    const studies = await importExams(setup, source);
    for (const [i, s] of studies.entries())
      for (const side of ['L', 'R'] as const)
        await callApi(setup, 'labels.set', {
          target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
          className: (i + (side === 'L' ? 1 : 0)) % 2 === 0 ? 'A' : 'B',
        });
    const nextJobId = Math.max(...setup.jobs.list({ limit: 10 }).map((j) => j.id)) + 1;
    return { dataDir, modelId: made.modelId, taskId: density.id, bundleDir: made.dir, nextJobId };
  } finally {
    setup.close();
  }
}
