// Warm across jobs (issue #15): classify jobs back to back on a CLEFT bundle whose text encoder is
// the 2.7B BioMedLM-shaped model, run by the real job queue in a worker thread, as `cleft serve`
// and the app run them. Each job classifies another study with another prompt set of 4 prompts
// (2 classes x 2 templates), so every job encodes 4 prompts and its images; the first job creates
// the sessions (cold), the later ones find them in the warm job worker (the worker's engine stats
// say so: no new session).
//
//   npx tsx bench/warm-jobs.ts [--model /work/bigmodel/biomedlm-shape] [--threads 2] [--jobs 3] [--write]
//
// --jobs N warm-worker jobs, then one more after the idle release emptied the worker's engine (what
// every job cost when each had its own worker).
//
// Needs ~11 GB free: run it under the memory lock (docs: /work/wt/COMMON.md). The bundle hard-links
// the model's files; everything is made in bench/out/warm-jobs/ and deleted afterwards.
import { parseArgs } from 'node:util';
import type { ClassifyResult } from '../src/common/jobs';
import { DEFAULT_SETTINGS } from '../src/main/db/settings-repo';
import { sessionPolicyOf } from '../src/main/features/image-features';
import { launchThreadWorker } from '../src/main/workers/thread-launcher';
import { ortVersion } from '../src/native/runtime/ort';
import { bigModelLibrary } from './big-model-job';
import { PROMPTS } from './big-text-prompts';
import { fmt, loadAvg1, machine, writeResultsSection } from './harness';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    threads: { type: 'string', default: '2' },
    jobs: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const jobCount = Number(values.jobs);

// One prompt set per job: the benches' 4 prompts (bench/big-text-prompts.ts) as 2 classes x 2
// templates, rotated and under other class names per job, so no job finds its class embeddings
// cached and every job runs the same arithmetic as a warm `embed text` of those 4 prompts.
const promptSet = (j: number) =>
  [0, 1].map((c) => ({
    name: `class ${j}.${c}`,
    label: `class ${j}.${c}`,
    prompts: [PROMPTS[(j + 2 * c) % 4]!, PROMPTS[(j + 2 * c + 1) % 4]!],
  }));

const load0 = loadAvg1();
// The bundle: the big text encoder (hard links), a tiny image encoder, heads of the right widths;
// one exam per job; the jobs in one worker thread, as the app runs them.
const lib = await bigModelLibrary({ name: 'warm-jobs', modelDir: values.model, exams: jobCount + 1, launchWorker: launchThreadWorker });
const { text, call, backend } = lib;
try {
  const studies = (await call('library.studies', { sort: { key: 'accession', dir: 'asc' } })).rows;

  const rows: string[] = [];
  const records: Record<string, unknown>[] = [];
  // The warm jobs, then one more after the idle release emptied the worker's engine: what every job
  // cost when each ran in a fresh worker (the ONNX cache on disk stays warm, as it did then).
  for (let j = 0; j <= jobCount; j++) {
    const released = j === jobCount;
    if (released) {
      backend.jobs.configureEngine({ idleMs: 1, budgetBytes: 0 });
      while ((backend.jobs.engineStats()?.size ?? 0) > 0) await new Promise((r) => setTimeout(r, 50));
      backend.jobs.configureEngine(sessionPolicyOf(DEFAULT_SETTINGS)); // kept again from now on, as the Settings say
    }
    const task = await call('tasks.create', { name: `Finding ${j}`, scope: 'image', classes: promptSet(j) });
    // the worker is a thread of this process: its CPU time counts in timedJob's
    const {
      job: done,
      wallS,
      cpuS,
      mem,
    } = await lib.timedJob(`job ${j + 1}`, () =>
      call('classify.start', { taskId: task.id, studyIds: [studies[j]!.id], modelId: lib.modelId, promptSet: null, threads }),
    );
    const result = done.result as ClassifyResult;
    const engine = backend.jobs.engineStats();
    const rec = {
      job: j + 1,
      released,
      wallS,
      cpuS,
      jobS: result.seconds,
      classEmbeddings: result.classEmbeddings,
      images: result.images,
      engine,
      load: loadAvg1(),
      ...mem,
    };
    records.push(rec);
    console.log(JSON.stringify(rec));
    rows.push(
      `| ${j + 1} | ${j === 0 ? 'cold worker (sessions created, fresh ONNX cache)' : released ? 'sessions released first (as when every job had its own worker)' : 'warm worker (the job before left it)'} | ${fmt(wallS, 2)} | ${fmt(cpuS, 2)} | ${fmt(result.seconds, 2)} | ${result.classEmbeddings} | ${engine ? `${engine.misses} / ${engine.hits} / ${engine.size}` : '-'} | ${fmt(mem.hwmGiB, 2)} | ${rec.load} |`,
    );
  }
  const f32Bytes = text.numParameters * 4;
  const m = machine();
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const md = `## Warm across jobs: classify jobs back to back with the 2.7B text encoder

Command: \`npx tsx bench/warm-jobs.ts --threads ${threads} --jobs ${jobCount} --write\` (model: \`npx tsx scripts/make-biomedlm-shape.ts --out ${values.model}\`)
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}; 1-min load average ${load0} before (after each job in the table).
Date: ${date}. A CLEFT bundle with the BioMedLM-shaped text encoder (${fmt(text.numParameters / 1e9, 3)}B parameters, bf16 in place; float32 weight bytes ${fmt(f32Bytes / 1e9, 2)} GB) and a tiny image encoder; the job queue of a web host (\`createBackend\`) runs the jobs in one worker thread, ${threads} intra-op threads. Each job classifies another 4-view phantom study with another task of 2 classes x 2 templates: the 4 prompts of the big-text-encoder section (none cached: other class names), so it encodes those 4 prompts (one batch of 4 x 19 tokens) and 4 images.

| job | worker | wall s (enqueue to done) | CPU s (whole process) | job's own s | class embeddings | engine sessions created / reused / kept (cumulative) | peak RSS GiB | load after |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

The warm jobs create no session (the created count stays): the job worker kept the text and image sessions from the first job (src/main/jobs/job-workers.ts). The last job ran after the idle release had emptied the engine, so it created both sessions again, as every job did before the worker stayed warm (each job had its own worker; the ONNX cache on disk was warm then too). A job's wall time includes its queueing, the worker's messages and writing the run; CPU time is user + system of the whole process (the worker is one of its threads), and wall time on this shared 2-core machine measures the other jobs too when the load average is above 2: read both.
Goal (issue 15): warm embed of 4 prompts <= 5 s.`;
  console.log(md);
  if (values.write) {
    writeResultsSection('warm-jobs', md);
    console.log('wrote bench/RESULTS.md');
  }
} finally {
  lib.close();
}
