// Peak memory of a prompt-learning job on the 2.7B BioMedLM-shaped text encoder (issue 15: prompt
// learning within 24 GB): the app's job (`train.promptLearn`: baseline with the task's prompts,
// training with validations, the reports after) on a CLEFT bundle with that text encoder, a tiny
// image encoder and 4 labelled phantom exams. The job runs in this thread (the job worker's code,
// test/helpers/job-worker.ts), so its VmHWM is this process's and the engine's counters of sessions
// over the frozen text weights (session-cache.ts weightSessions) can be read.
//
//   npx tsx bench/prompt-learn-memory.ts [--model /work/bigmodel/biomedlm-shape] [--threads 2] [--steps 2] [--write]
//
// Needs ~12 GB free: run it under the memory lock (/work/wt/COMMON.md):
//   flock /work/wt/bigmem.lock bash -c 'npx tsx bench/prompt-learn-memory.ts --write & p=$!; /work/wt/memwatch.sh $p; wait $p'
import { parseArgs } from 'node:util';
import type { PromptLearnResult } from '../src/common/jobs';
import type { MethodInput } from '../src/common/contract';
import { openBundle } from '../src/native/bundle/index';
import { frozenWeightsId } from '../src/native/models/weights';
import { ortVersion } from '../src/native/runtime/ort';
import { weightSessions } from '../src/native/runtime/session-cache';
import { bigModelLibrary } from './big-model-job';
import { fmt, loadAvg1, machine, writeResultsSection } from './harness';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '2' },
    write: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const steps = Number(values.steps);

const load0 = loadAvg1();
const lib = await bigModelLibrary({ name: 'prompt-learn-memory', modelDir: values.model, threads });
const { text, bundleDir, call } = lib;
try {
  const studies = (await call('library.studies', { sort: { key: 'accession', dir: 'asc' } })).rows;
  const task = await call('tasks.create', {
    name: 'Finding',
    scope: 'breast',
    classes: ['no finding', 'finding'].map((c) => ({ name: c, label: c, prompts: [`a mammogram with ${c}`] })),
  });
  // two patients per class: validation holds one of each
  for (const [i, s] of studies.entries())
    for (const side of ['L', 'R'] as const)
      await call('labels.set', {
        target: { taskId: task.id, studyId: s.id, scope: 'breast', laterality: side },
        className: i % 2 === 0 ? 'no finding' : 'finding',
      });
  const bundle = await openBundle(bundleDir, { verify: 'sizes' });
  const id = frozenWeightsId(bundle.text.dir, bundle.text.adapter?.dir);

  const { job, wallS, cpuS, mem } = await lib.timedJob('prompt-learn', () =>
    call('train.promptLearn', {
      modelId: lib.modelId,
      taskId: task.id,
      name: 'learned',
      nCtx: 30,
      steps,
      batchSize: 8,
      valFraction: 0.5,
    } as MethodInput<'train.promptLearn'>),
  );
  const result = job.result as PromptLearnResult;
  const counted = weightSessions(id);
  const f32GiB = (text.numParameters * 4) / 2 ** 30;
  const rec = {
    wallS,
    cpuS,
    jobS: result.seconds,
    steps: result.steps,
    val: result.val,
    textSessions: counted,
    f32GiB,
    ...mem,
    load: loadAvg1(),
  };
  console.log(JSON.stringify(rec));
  const m = machine();
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const md = `## Prompt-learning job memory on the 2.7B text encoder

Command: \`npx tsx bench/prompt-learn-memory.ts --threads ${threads} --steps ${steps} --write\` under the memory lock (model: \`npx tsx scripts/make-biomedlm-shape.ts --out ${values.model}\`)
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}; 1-min load average ${load0} before, ${rec.load} after.
Date: ${date}. The app's prompt-learning job (\`train.promptLearn\`, run by the job worker's code in the bench's thread) on a CLEFT bundle with the BioMedLM-shaped text encoder (${fmt(text.numParameters / 1e9, 3)}B parameters, bf16 in place; float32 weight bytes ${fmt(f32GiB, 2)} GiB) and a tiny image encoder: 16 labelled breasts of 4 phantom exams, 2 classes, half the patients held out for validation, 30 context vectors, ${steps} updates with a validation after each, the baseline with the task's prompts before and the reports after.

| updates | validations' images | job wall s | CPU s | peak RSS GiB (VmHWM) | peak RSS / float32 weight bytes | sessions over the text weights alive at once (peak; live after) |
|---|---|---|---|---|---|---|
| ${result.steps} | ${result.val} | ${fmt(wallS, 1)} | ${fmt(rec.cpuS, 1)} | ${fmt(mem.hwmGiB, 2)} | ${fmt(mem.hwmGiB / f32GiB, 2)} | ${counted.peak}; ${counted.live} |

Every ORT session over bf16 weights holds its own float32 copy of them (ORT folds the Cast when it creates the session). The job holds one at a time: the engine's text-encoder session (the baseline) is released before training, and the train step and the evaluating forward take turns (src/native/training/one-session.ts), each created again at a switch; both run without prepacking. Before this (commit 52a36c6: the engine's text encoder, forward and train step sessions alive at once, the training ones prepacked), this bench on that commit (2026-12-05 01:27, MemAvailable 22.4 GiB at its start) was killed by the memory watchdog 54 s in: the text encoder's session had taken it to 10.6 GiB, creating the training sessions next to it to 20.97 GiB and rising when the machine's MemAvailable fell under 1.5 GiB.`;
  console.log(md);
  if (values.write) {
    writeResultsSection('prompt-learn-memory', md);
    console.log('wrote bench/RESULTS.md');
  }
} finally {
  lib.close();
}
