// CLEFT workflow benches on full-size random-weight encoders (the Hugging Face folders bench/encoders.ts
// writes into bench/out/: DINOv2-B/14 with 4 registers at 224, GPT-2 small):
//
//   npx tsx bench/cleft.ts [--only prompt,lora,zeroshot] [--threads 2] [--repeats N] [--warmup N] [--write]
//
// - prompt: one prompt-learning update (Trainer.trainStep: train_step.onnx + optimizer.onnx) with GPT-2
//   small, 4 classes, 16 context vectors, 25 class tokens, 512 cached image embeddings per batch, AdamW.
//   PyTorch eager (OpenBLAS, 2 threads) took 0.67 s; goal <= 0.33 s.
// - lora: one contrastive LoRA update, DINOv2-B/14+reg at 224 + GPT-2 small, LoRA r 8 on both (text
//   c_attn, image query/value, dropout 0.1), trainable projections and logit scale, batch 8 x 64
//   tokens, AdamW. PyTorch 17.0 s; goal <= 8.5 s.
// - zeroshot: one-click zero-shot of a 4-view study from DICOM files (full-size 3328x4096 phantoms,
//   JPEG 2000) to probabilities with DINOv2-B, text embeddings cached: prepareFiles + image encoder +
//   heads. Goal < 2.5 s.
// Medians and IQR of wall time, and the process CPU time per call (all ORT threads; on this shared
// 2-core machine other jobs steal cores, CPU time / threads is the cost with the cores to itself).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createHeads, writeHeads } from '../src/native/models/heads';
import { createBundle, openBundle } from '../src/native/bundle/index';
import { openPromptLearning } from '../src/native/cleft/prompt-learning';
import { openContrastive } from '../src/native/cleft/contrastive';
import { zeroShot } from '../src/native/cleft/zero-shot';
import { builtinTask } from '../src/native/cleft/tasks';
import { generatePhantoms } from '../src/main/dicom/phantom/index';
import { prepareFiles } from '../src/main/dicom/pipeline/prepare';
import { PreprocessSpec, presetSpec } from '../src/main/dicom/pipeline/spec';
import { fmt, loadAvg1, machine, measure, summarize, writeResultsSection, type Stats } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out');
const IMAGE_DIR = path.join(OUT, 'dinov2-reg-b14-random');
const TEXT_DIR = path.join(OUT, 'gpt2-small-random');
const WORK = path.join(OUT, 'cleft');

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'prompt,lora,zeroshot' },
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string' },
    warmup: { type: 'string' },
    write: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const only = new Set(values.only!.split(','));
const session = { intraOpNumThreads: threads };

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32 - 0.5;
  };
}

function ensureEncoders(): void {
  if (fs.existsSync(path.join(IMAGE_DIR, 'model.safetensors')) && fs.existsSync(path.join(TEXT_DIR, 'model.safetensors'))) return;
  console.log('writing the random-weight encoders with bench/encoders.ts ...');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'encoders.ts'), '--repeats', '1', '--warmup', '0'], {
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('bench/encoders.ts failed');
}

function headsFile(): string {
  const f = path.join(WORK, 'heads-768-768-512.safetensors');
  if (!fs.existsSync(f)) {
    fs.mkdirSync(WORK, { recursive: true });
    writeHeads(f, createHeads(768, 768, 512, 1));
  }
  return f;
}

async function timed(
  name: string,
  fn: () => Promise<unknown>,
  o: { repeats: number; warmup: number },
): Promise<{ stats: Stats; cpu: Stats }> {
  const cpuMs: number[] = [];
  const stats = await measure(
    name,
    async () => {
      const c0 = process.cpuUsage();
      await fn();
      const c = process.cpuUsage(c0);
      cpuMs.push((c.user + c.system) / 1e3);
    },
    o,
  );
  return { stats, cpu: summarize(`${name} cpu`, cpuMs.slice(-stats.n)) };
}

const rows: string[] = [];
const row = (label: string, r: { stats: Stats; cpu: Stats }, goalS: number, torchS: number | null) => {
  const s = r.stats;
  const line = `| ${label} | ${fmt(s.medianMs / 1000, 3)} | ${fmt(s.q1Ms / 1000, 3)}-${fmt(s.q3Ms / 1000, 3)} | ${fmt(r.cpu.medianMs / 1000 / threads, 3)} | ${torchS ?? '-'} | ${goalS} | ${s.n} |`;
  rows.push(line);
  console.log(line);
};

async function benchPrompt(): Promise<void> {
  const o = { repeats: Number(values.repeats ?? 10), warmup: Number(values.warmup ?? 2) };
  const r = rng(3);
  const N = 512;
  const feats = Float32Array.from({ length: N * 768 }, () => r());
  const labels = Array.from({ length: N }, (_, i) => i % 4);
  for (const [label, tokens] of [
    ['prompt learning: 4 classes x (16 ctx + 25 tokens), 512 image embeddings', 25],
    ['prompt learning: 4 classes x (16 ctx + 9 tokens = 25 positions), 512 embeddings', 9],
  ] as const) {
    const classIds = Array.from({ length: 4 }, () => Array.from({ length: tokens }, () => Math.floor((r() + 0.5) * 50000)));
    const { wt } = await openPromptLearning({
      text: { modelDir: TEXT_DIR },
      heads: (await import('../src/native/models/heads')).readHeads(headsFile()),
      imageFeatures: feats,
      labels,
      classIds,
      nCtx: 16,
      init: { kind: 'random' },
      optimizer: { kind: 'adamw', lr: 1e-3 },
      steps: 1_000_000,
      batchSize: N,
      workDir: path.join(WORK, `prompt-${tokens}`),
      session,
    });
    try {
      row(label, await timed(label, () => wt.trainer.trainStep(), o), 0.33, 0.67);
    } finally {
      await wt.close();
    }
  }
}

async function benchLora(): Promise<void> {
  const o = { repeats: Number(values.repeats ?? 5), warmup: Number(values.warmup ?? 1) };
  const r = rng(5);
  const B = 8;
  const T = 64;
  const px = Float32Array.from({ length: B * 3 * 224 * 224 }, () => r() * 4);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor((r() + 0.5) * 50000)));
  const lengths = BigInt64Array.from({ length: B }, (_, i) => BigInt(T - 2 * i));
  const { wt } = await openContrastive({
    text: { modelDir: TEXT_DIR, training: { mode: 'lora' } },
    image: { modelDir: IMAGE_DIR, pool: 'prenorm-mean', training: { mode: 'lora' } },
    heads: (await import('../src/native/models/heads')).readHeads(headsFile()),
    data: { pixelValues: px, pixelShape: [B, 3, 224, 224], inputIds: ids, lengths },
    optimizer: { kind: 'adamw', lr: 1e-4 },
    steps: 1_000_000,
    batchSize: B,
    workDir: path.join(WORK, 'lora'),
    session: { ...session, sharedWeights: true },
  });
  try {
    const label = 'contrastive LoRA: DINOv2-B/14+reg 224 + GPT-2 small, r 8 both, batch 8 x 64 tokens';
    row(label, await timed(label, () => wt.trainer.trainStep(), o), 8.5, 17.0);
  } finally {
    await wt.close();
  }
}

async function benchZeroShot(): Promise<void> {
  const o = { repeats: Number(values.repeats ?? 8), warmup: Number(values.warmup ?? 2) };
  const phantoms = path.join(WORK, 'phantoms-full');
  if (!fs.existsSync(path.join(phantoms, 'done'))) {
    await generatePhantoms({ outDir: phantoms, exams: 1, seed: 5, size: 'full', syntaxes: ['j2k'] });
    fs.writeFileSync(path.join(phantoms, 'done'), '');
  }
  const files = fs
    .readdirSync(phantoms, { recursive: true, withFileTypes: false })
    .map(String)
    .filter((f) => f.endsWith('.dcm'))
    .map((f) => path.join(phantoms, f))
    .sort();
  const bundleDir = path.join(WORK, 'bundle-dinov2-gpt2');
  const spec = PreprocessSpec.parse({ ...presetSpec('cleft'), size: 224 });
  if (!fs.existsSync(path.join(bundleDir, 'cleft-bundle.json')))
    await createBundle(
      bundleDir,
      {
        textModel: TEXT_DIR,
        imageModel: IMAGE_DIR,
        heads: headsFile(),
        tokenizer: null,
        imagePooling: 'prenorm-mean',
        preprocessing: spec as unknown as Record<string, unknown>,
      },
      { link: 'hardlink' },
    );
  const bundle = await openBundle(bundleDir, { verify: 'sizes' });
  const task = builtinTask('Breast density')!;
  const r = rng(11);
  const classEmbeddings = Float32Array.from({ length: 4 * 512 }, () => r()); // cached text side
  const e = { cacheDir: path.join(WORK, 'onnx-cache'), threads };
  const label = `one-click zero-shot: 4-view study (${files.length} JPEG 2000 files 3328x4096) -> probabilities, DINOv2-B, text cached`;
  row(
    label,
    await timed(
      label,
      async () => {
        const p = await prepareFiles(files, spec);
        const z = await zeroShot(
          { bundle, task, pixelValues: p.pixelValues, shape: p.shape, classEmbeddings, laterality: ['R', 'L', 'R', 'L'] },
          e,
        );
        if (z.probabilities.length !== 4) throw new Error('expected 4 views');
      },
      o,
    ),
    2.5,
    null,
  );
}

ensureEncoders();
const before = machine();
if (only.has('prompt')) await benchPrompt();
if (only.has('lora')) await benchLora();
if (only.has('zeroshot')) await benchZeroShot();
const after = loadAvg1();

if (values.write) {
  const md = `## CLEFT workflows: prompt learning, contrastive LoRA, one-click zero-shot (random-weight full-size encoders)

Command: \`npx tsx bench/cleft.ts --threads ${threads}${values.repeats ? ` --repeats ${values.repeats}` : ''}${values.warmup ? ` --warmup ${values.warmup}` : ''} --only ${[...only].join(',')} --write\`
Machine: ${before.cpu}, ${before.logicalCores} logical cores, ${before.platform}, Node ${before.node}; 1-min load average ${before.loadAvg1} before, ${after} after.
Date: ${new Date().toISOString().slice(0, 10)}. Wall time per call (median, IQR) and process CPU time per call / ${threads} threads (the cost with the cores to itself). One update = train_step + optimizer graphs (Trainer.trainStep).

| what | median s | IQR s | CPU s / thread | PyTorch s | goal s | n |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
  writeResultsSection('cleft', md);
  console.log('wrote bench/RESULTS.md (section cleft)');
}
