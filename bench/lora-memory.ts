// Peak memory of a contrastive LoRA job on the 2.7B BioMedLM-shaped text encoder (issue 15: LoRA
// within 24 GB): the app's job (`train.lora`: text LoRA, validation before training and after each
// update, the metrics before and after) on a CLEFT bundle with that text encoder (reports truncated
// to 64 tokens), a tiny image encoder and 4 phantom exams with their reports (16 image-report
// pairs, half the patients held out: batch 8 x 64 tokens). The job runs in this thread (the job
// worker's code, test/helpers/job-worker.ts), so its VmHWM is this process's and the engine's
// counters of sessions over the frozen weights (session-cache.ts weightSessions) can be read.
//
//   npx tsx bench/lora-memory.ts [--model /work/bigmodel/biomedlm-shape] [--threads 2] [--steps 1] [--write]
//
// Needs ~14 GB free: run it under the memory lock (/work/wt/COMMON.md):
//   flock /work/wt/bigmem.lock bash -c 'npx tsx bench/lora-memory.ts --write & p=$!; /work/wt/memwatch.sh $p; wait $p'
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBackend } from '../src/main/api/backend';
import { dispatch } from '../src/main/api/dispatch';
import { jobRunners } from '../src/main/jobs/kinds/index';
import type { TrainLoraResult } from '../src/common/jobs';
import type { MethodInput, MethodName, MethodOutput } from '../src/common/contract';
import { generateExam } from '../src/main/dicom/phantom/index';
import { createBundle, openBundle } from '../src/native/bundle/index';
import { defaultTokenizerDir } from '../src/native/cleft/demo';
import { bundleTokenizer } from '../src/native/cleft/zero-shot';
import { QUICK_SIZES, writeTinyModels } from '../src/native/cleft/tiny-models';
import { createHeads, writeHeads } from '../src/native/models/heads';
import { loadHfFolder } from '../src/native/models/hf-model';
import { frozenWeightsId } from '../src/native/models/weights';
import { ortVersion } from '../src/native/runtime/ort';
import { weightSessions } from '../src/native/runtime/session-cache';
import { inProcessWorker } from '../test/helpers/job-worker';
import { fmt, loadAvg1, machine, writeResultsSection } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '1' },
    write: { type: 'boolean', default: false },
  },
});
const modelDir = path.resolve(values.model);
const threads = Number(values.threads);
const steps = Number(values.steps);
const TOKENS = 64;
const BATCH = 8;
if (!fs.existsSync(path.join(modelDir, 'config.json')))
  throw new Error(`${modelDir}: no model; make it with npx tsx scripts/make-biomedlm-shape.ts --out ${modelDir}`);

function vm(): { hwmGiB: number; rssGiB: number } {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 2 ** 20;
  return { hwmGiB: kb('VmHWM'), rssGiB: kb('VmRSS') };
}

const root = path.join(here, 'out', 'lora-memory', String(process.pid));
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(root, { recursive: true });
const load0 = loadAvg1();
const backend = createBackend({
  dataDir: path.join(root, 'library'),
  launchWorker: inProcessWorker(jobRunners),
  host: 'web',
  version: 'bench',
});
async function call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
  const r = await dispatch(backend.handlers, method, input);
  if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
  return r.value as MethodOutput<M>;
}
// Progress on stderr with the peak so far (a run the memory watchdog kills leaves its last line).
const ticker = setInterval(() => console.error(`VmHWM ${fmt(vm().hwmGiB, 2)} GiB, VmRSS ${fmt(vm().rssGiB, 2)} GiB`), 5000);

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
    { textModel: modelDir, imageModel: tiny.image, heads, tokenizer, name: 'biomedlm-shape', maxTextLength: TOKENS },
    { link: 'hardlink' },
  );
  const model = await call('models.import', { path: bundleDir, copy: false });
  const dicom = path.join(root, 'dicom');
  const reports: string[] = [];
  for (let i = 0; i < 4; i++)
    reports.push(
      (await generateExam(i, { outDir: dicom, seed: 3, size: { rows: 128, columns: 104, pixelSpacing: 2.24 }, syntaxes: ['explicit-le'] }))
        .report,
    );
  const imported = await backend.jobs.waitFor((await call('library.import', { paths: [dicom] })).id);
  if (imported.error) throw new Error(`import: ${imported.error}`);
  await call('reports.import', { path: dicom });
  await call('settings.update', { threads });
  const bundle = await openBundle(bundleDir, { verify: 'sizes' });
  // the token rows of a micro-batch: every report padded to the longest, at most TOKENS
  const seq =
    bundleTokenizer(bundle).encodeBatch(reports, { maxLength: TOKENS, onWarning: () => undefined }).inputIds.length / reports.length;
  const textId = frozenWeightsId(bundle.text.dir, bundle.text.adapter?.dir);

  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const job = await backend.jobs.waitFor(
    (
      await call('train.lora', {
        modelId: model.id,
        name: 'lora',
        steps,
        batchSize: BATCH,
        valFraction: 0.5,
        evalEvery: 1,
        checkpointEvery: steps,
        schedule: 'constant',
        lr: 1e-4,
      } as MethodInput<'train.lora'>)
    ).id,
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  if (job.error) throw new Error(`train-lora: ${job.error}`);
  const result = job.result as TrainLoraResult;
  const mem = vm();
  const counted = weightSessions(textId);
  const f32GiB = (text.numParameters * 4) / 2 ** 30;
  const rec = {
    wallS,
    cpuS: (cpu.user + cpu.system) / 1e6,
    jobS: result.seconds,
    steps: result.steps,
    train: result.train,
    val: result.val,
    seq,
    textSessions: counted,
    f32GiB,
    ...mem,
    load: loadAvg1(),
  };
  console.log(JSON.stringify(rec));
  const m = machine();
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const md = `## Contrastive LoRA job memory on the 2.7B text encoder

Command: \`npx tsx bench/lora-memory.ts --threads ${threads} --steps ${steps} --write\` under the memory lock (model: \`npx tsx scripts/make-biomedlm-shape.ts --out ${values.model}\`)
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}; 1-min load average ${load0} before, ${rec.load} after.
Date: ${date}. The app's contrastive LoRA job (\`train.lora\`, run by the job worker's code in the bench's thread) on a CLEFT bundle with the BioMedLM-shaped text encoder (${fmt(text.numParameters / 1e9, 3)}B parameters, bf16 in place; float32 weight bytes ${fmt(f32GiB, 2)} GiB; LoRA on c_attn, r 8) and a tiny frozen image encoder: ${result.train + result.val} image-report pairs of 4 phantom exams, half the patients held out, micro-batches of ${BATCH} pairs x ${seq} tokens, ${steps} update(s) with a validation before training and after each update, the metrics before and after.

| updates | training pairs | validation pairs | job wall s | CPU s | peak RSS GiB (VmHWM) | peak RSS / float32 weight bytes | sessions over the text weights alive at once (peak; live after) |
|---|---|---|---|---|---|---|---|
| ${result.steps} | ${result.train} | ${result.val} | ${fmt(wallS, 1)} | ${fmt(rec.cpuS, 1)} | ${fmt(mem.hwmGiB, 2)} | ${fmt(mem.hwmGiB / f32GiB, 2)} | ${counted.peak}; ${counted.live} |

Every ORT session over bf16 weights holds its own float32 copy of them. The job holds one at a time: the train step and the evaluating forward take turns through one holder (src/native/training/one-session.ts), each created again at a switch, without prepacking (docs/engine.md#training-memory). Before this change the job created forward.onnx and train_step.onnx together and kept both, prepacked, for the whole run: two float32 copies before any activation. This bench on that path (commit 1229757 with \`ONE_FROZEN_SESSION.aboveBytes\` set to Infinity: the code of main 098fe3b for this job; 2026-12-05 01:48, MemAvailable 22.8 GiB at its start, load 1.48) was killed by the memory watchdog 51 s in, when the machine's MemAvailable fell under 1.5 GiB (about 21 GiB taken since its start, as a second float32 copy of the text weights next to the first would take; its last progress line said 10.03 GiB).`;
  console.log(md);
  if (values.write) {
    writeResultsSection('lora-memory', md);
    console.log('wrote bench/RESULTS.md');
  }
} finally {
  clearInterval(ticker);
  backend.close();
  fs.rmSync(root, { recursive: true, force: true });
}
