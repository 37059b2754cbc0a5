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
import { parseArgs } from 'node:util';
import type { TrainLoraResult } from '../src/common/jobs';
import type { MethodInput } from '../src/common/contract';
import { openBundle } from '../src/native/bundle/index';
import { bundleTokenizer } from '../src/native/cleft/zero-shot';
import { frozenWeightsId } from '../src/native/models/weights';
import { ortVersion } from '../src/native/runtime/ort';
import { weightSessions } from '../src/native/runtime/session-cache';
import { bigModelLibrary } from './big-model-job';
import { fmt, loadAvg1, machine, writeResultsSection } from './harness';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '1' },
    write: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const steps = Number(values.steps);
const TOKENS = 64;
const BATCH = 8;

const load0 = loadAvg1();
const lib = await bigModelLibrary({ name: 'lora-memory', modelDir: values.model, threads, maxTextLength: TOKENS });
const { text, bundleDir, reports, call } = lib;
try {
  await call('reports.import', { path: lib.dicom });
  const bundle = await openBundle(bundleDir, { verify: 'sizes' });
  // the token rows of a micro-batch: every report padded to the longest, at most TOKENS
  const seq =
    bundleTokenizer(bundle).encodeBatch(reports, { maxLength: TOKENS, onWarning: () => undefined }).inputIds.length / reports.length;
  const textId = frozenWeightsId(bundle.text.dir, bundle.text.adapter?.dir);

  const { job, wallS, cpuS, mem } = await lib.timedJob('train-lora', () =>
    call('train.lora', {
      modelId: lib.modelId,
      name: 'lora',
      steps,
      batchSize: BATCH,
      valFraction: 0.5,
      evalEvery: 1,
      checkpointEvery: steps,
      schedule: 'constant',
      lr: 1e-4,
    } as MethodInput<'train.lora'>),
  );
  const result = job.result as TrainLoraResult;
  const counted = weightSessions(textId);
  const f32GiB = (text.numParameters * 4) / 2 ** 30;
  const rec = {
    wallS,
    cpuS,
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
  lib.close();
}
