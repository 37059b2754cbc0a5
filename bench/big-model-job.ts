// The setup of the benches that run app jobs on the 2.7B BioMedLM-shaped text encoder
// (prompt-learn-memory, lora-memory, warm-jobs): a library in bench/out with a CLEFT bundle of that
// text encoder and a tiny image encoder, phantom exams, the backend's API, and this process's memory
// figures. By default the jobs run in this thread (the job worker's code, test/helpers/job-worker.ts),
// so their VmHWM is this process's and the engine's per-weights session counters can be read.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend } from '../src/main/api/backend';
import { dispatch } from '../src/main/api/dispatch';
import { jobRunners } from '../src/main/jobs/kinds/index';
import type { MethodInput, MethodName, MethodOutput } from '../src/common/contract';
import type { Job } from '../src/common/jobs';
import { generateExam } from '../src/main/dicom/phantom/index';
import { createBundle } from '../src/native/bundle/index';
import { defaultTokenizerDir } from '../src/native/cleft/demo';
import { QUICK_SIZES, writeTinyModels } from '../src/native/cleft/tiny-models';
import { createHeads, writeHeads } from '../src/native/models/heads';
import { loadHfFolder, type HfModel } from '../src/native/models/hf-model';
import { inProcessWorker } from '../test/helpers/job-worker';
import type { WorkerLauncher } from '../src/main/workers/job-protocol';
import { fmt } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));

/** This process's peak and current resident memory (/proc/self/status), GiB. */
export function procMemory(): { hwmGiB: number; rssGiB: number } {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 2 ** 20;
  return { hwmGiB: kb('VmHWM'), rssGiB: kb('VmRSS') };
}

export interface BigModelLibrary {
  /** The big text encoder. */
  text: HfModel;
  bundleDir: string;
  modelId: number;
  /** The phantom exams' folder and their reports, in exam order. */
  dicom: string;
  reports: string[];
  backend: ReturnType<typeof createBackend>;
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>>;
  /**
   * Starts a job and waits for it; refuses a failed one. Wall and CPU seconds from the start to its
   * end (a worker thread's CPU time counts in this process's), this process's memory after.
   */
  timedJob(
    what: string,
    start: () => Promise<{ id: number }>,
  ): Promise<{ job: Job; wallS: number; cpuS: number; mem: ReturnType<typeof procMemory> }>;
  /** Stops the progress line, closes the backend and removes the folder. */
  close(): void;
}

/** The library, bundle imported and exams imported, Settings' threads set if given; progress with the peak RSS on stderr. */
export async function bigModelLibrary(o: {
  name: string;
  modelDir: string;
  threads?: number;
  maxTextLength?: number;
  /** Phantom exams (default 4). */
  exams?: number;
  /** Where jobs run (default: this thread). */
  launchWorker?: WorkerLauncher;
}): Promise<BigModelLibrary> {
  const modelDir = path.resolve(o.modelDir);
  if (!fs.existsSync(path.join(modelDir, 'config.json')))
    throw new Error(`${modelDir}: no model; make it with npx tsx scripts/make-biomedlm-shape.ts --out ${modelDir}`);
  const root = path.join(here, 'out', o.name, String(process.pid));
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const backend = createBackend({
    dataDir: path.join(root, 'library'),
    launchWorker: o.launchWorker ?? inProcessWorker(jobRunners),
    host: 'web',
    version: 'bench',
  });
  async function call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
    const r = await dispatch(backend.handlers, method, input);
    if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
    return r.value as MethodOutput<M>;
  }
  // with the peak so far: a run the memory watchdog kills leaves its last line
  const ticker = setInterval(() => {
    const m = procMemory();
    console.error(`VmHWM ${fmt(m.hwmGiB, 2)} GiB, VmRSS ${fmt(m.rssGiB, 2)} GiB`);
  }, 5000);
  const close = () => {
    clearInterval(ticker);
    backend.close();
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    const text = loadHfFolder(modelDir);
    const textDim = (text.config as { nEmbd: number }).nEmbd;
    const tiny = writeTinyModels(path.join(root, 'tiny'), QUICK_SIZES, 5);
    const heads = path.join(root, 'heads.safetensors');
    writeHeads(heads, createHeads(textDim, QUICK_SIZES.imageDim, QUICK_SIZES.projDim, 5));
    const bundleDir = path.join(root, 'bundle');
    const tokenizer = fs.existsSync(path.join(modelDir, 'vocab.json')) ? modelDir : defaultTokenizerDir();
    await createBundle(
      bundleDir,
      {
        textModel: modelDir,
        imageModel: tiny.image,
        heads,
        tokenizer,
        name: 'biomedlm-shape',
        ...(o.maxTextLength ? { maxTextLength: o.maxTextLength } : {}),
      },
      { link: 'hardlink' },
    );
    const model = await call('models.import', { path: bundleDir, copy: false });
    const dicom = path.join(root, 'dicom');
    const reports: string[] = [];
    for (let i = 0; i < (o.exams ?? 4); i++)
      reports.push(
        (
          await generateExam(i, {
            outDir: dicom,
            seed: 3,
            size: { rows: 128, columns: 104, pixelSpacing: 2.24 },
            syntaxes: ['explicit-le'],
          })
        ).report,
      );
    const imported = await backend.jobs.waitFor((await call('library.import', { paths: [dicom] })).id);
    if (imported.error) throw new Error(`import: ${imported.error}`);
    if (o.threads !== undefined) await call('settings.update', { threads: o.threads });
    const timedJob: BigModelLibrary['timedJob'] = async (what, start) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const job = await backend.jobs.waitFor((await start()).id);
      const wallS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(c0);
      if (job.error) throw new Error(`${what}: ${job.error}`);
      return { job, wallS, cpuS: (cpu.user + cpu.system) / 1e6, mem: procMemory() };
    };
    return { text, bundleDir, modelId: model.id, dicom, reports, backend, call, timedJob, close };
  } catch (e) {
    close();
    throw e;
  }
}
