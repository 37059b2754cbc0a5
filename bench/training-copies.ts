// Bytes between the host and ORT per training update, per graph, counted by the trainer's runner
// (src/native/training/runner.ts TrafficCounter) on real sessions: train-lora (GPT-2 + ViT with LoRA
// on both, and on GPT-2 + DINOv2-reg) and prompt-learn on the reference-a models, on the CPU provider
// (host round trip), on WebGPU with the host round trip (deviceState: false) and on WebGPU with the
// state kept on the device (the default there). Update 1 uploads the initial state; the steady
// state is from update 2 on. Milliseconds per update are printed with the adapter's name: on a
// software adapter (lavapipe) they mean nothing.
//
// npx tsx bench/training-copies.ts [--steps 4] [--write]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHeads } from '../src/native/models/heads';
import { readTensors, toFloat32 } from '../src/native/formats/safetensors';
import { openContrastive, type EncoderTraining } from '../src/native/cleft/contrastive';
import { openPromptLearning } from '../src/native/cleft/prompt-learning';
import { imageFeatures } from '../src/native/cleft/features';
import type { WorkflowTrainer } from '../src/native/cleft/common';
import type { SessionTraffic, StepInfo } from '../src/native/training/index';
import { probeWebgpu } from '../src/native/runtime/providers';
import { listWebgpuAdapters } from '../src/native/runtime/webgpu-adapters';
import { ortVersion } from '../src/native/runtime/ort';
import { fmt, loadAvg1, machine, writeResultsSection } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const REF = path.resolve(here, '../test/fixtures/reference-a');
const OUT = path.join(here, 'out', 'training-copies');
const R = (p: string) => path.join(REF, p);
const args = process.argv.slice(2);
const steps = Number(args[args.indexOf('--steps') + 1] ?? 4) || 4;
const cases = readTensors(R('cases.safetensors'));
const f32 = (k: string) => toFloat32(cases.get(k)!);
const i64 = (k: string) => cases.get(k)!.data as BigInt64Array;
const heads = readHeads(R('heads.safetensors'));

type Mode = { label: string; device: 'cpu' | 'webgpu'; deviceState: boolean };
const MODES: Mode[] = [
  { label: 'CPU', device: 'cpu', deviceState: true },
  { label: 'WebGPU, host round trip', device: 'webgpu', deviceState: false },
  { label: 'WebGPU, state on device', device: 'webgpu', deviceState: true },
];

const run = (w: string, m: Mode) => ({
  optimizer: { kind: 'adamw' as const, lr: 1e-3 },
  steps,
  batchSize: 3,
  shuffle: false,
  workDir: path.join(OUT, w),
  device: m.device,
  deviceState: m.deviceState,
  session: { intraOpNumThreads: 2 },
});

const lora = (adapterDir: string | null, targets: string[]): EncoderTraining => ({ mode: 'lora', adapterDir, targets, dropout: 0 });

const WORKFLOWS: { name: string; open: (m: Mode) => Promise<WorkflowTrainer> }[] = [
  {
    name: 'train-lora GPT-2 + ViT (LoRA on both)',
    open: async (m) =>
      (
        await openContrastive({
          text: { modelDir: R('gpt2'), training: lora(R('gpt2/adapter'), []) },
          image: { modelDir: R('vit'), pool: 'cls', training: lora(R('vit/adapter'), []) },
          heads,
          data: {
            pixelValues: f32('vit.pixel_values'),
            pixelShape: [3, 3, 32, 32],
            inputIds: i64('text.input_ids'),
            lengths: i64('text.lengths'),
          },
          ...run(`lora-vit-${m.device}-${m.deviceState}`, m),
        })
      ).wt,
  },
  {
    name: 'train-lora GPT-2 + DINOv2-reg (LoRA c_attn; query, value)',
    open: async (m) =>
      (
        await openContrastive({
          text: { modelDir: R('gpt2'), training: lora(null, ['c_attn']) },
          image: { modelDir: R('dinov2'), pool: 'prenorm-mean', training: lora(null, ['query', 'value']) },
          heads,
          data: {
            pixelValues: f32('dinov2.pixel_values'),
            pixelShape: [3, 3, 28, 28],
            inputIds: i64('text.input_ids'),
            lengths: i64('text.lengths'),
          },
          ...run(`lora-dinov2-${m.device}-${m.deviceState}`, m),
        })
      ).wt,
  },
  {
    name: 'prompt-learn (GPT-2, context vectors)',
    open: async (m) => {
      const feats = await imageFeatures({ modelDir: R('vit'), pool: 'cls' }, f32('vit.pixel_values'), [3, 3, 32, 32], {
        cacheDir: path.join(OUT, 'pl-cache'),
      });
      return (
        await openPromptLearning({
          text: { modelDir: R('gpt2') },
          heads,
          imageFeatures: feats.features,
          labels: Array.from(i64('prompt.labels'), Number),
          classIds: [0, 1, 2].map((c) => Array.from(i64(`prompt.class_ids.${c}`), Number)),
          init: { kind: 'values', ctx: f32('prompt.ctx'), shape: cases.get('prompt.ctx')!.shape },
          ...run(`prompt-${m.device}-${m.deviceState}`, m),
        })
      ).wt;
    },
  },
];

const kb = (b: number) => (b === 0 ? '0' : b < 1024 ? `${b} B` : `${fmt(b / 1024, 1)} KiB`);
const both = (t: SessionTraffic) => `${kb(t.hostIn)} / ${kb(t.hostOut)}`;
const sum = (a: SessionTraffic, b: SessionTraffic) => a.hostIn + a.hostOut + b.hostIn + b.hostOut;

const noGpu = await probeWebgpu();
const adapters = noGpu === undefined ? listWebgpuAdapters().adapters : [];
const adapterName = adapters.map((a) => `${a.name} (${a.vendor}, ${a.backend})`).join('; ') || `none (${noGpu ?? 'not listed'})`;
fs.rmSync(OUT, { recursive: true, force: true });

const mach = machine();
const rows: string[] = [];
for (const w of WORKFLOWS) {
  for (const m of MODES) {
    if (m.device === 'webgpu' && noGpu !== undefined) {
      rows.push(`| ${w.name} | ${m.label} | skipped: ${noGpu} | | | | | |`);
      continue;
    }
    const wt = await w.open(m);
    const t = wt.trainer;
    const N = t.manifest.layout.total;
    const infos: StepInfo[] = [];
    for (let s = 0; s < steps; s++) infos.push(await t.trainStep());
    const before = t.traffic.readback;
    await t.syncToHost();
    const readback = t.traffic.readback.hostOut - before.hostOut;
    await wt.close();
    const first = infos[0]!.io;
    const steady = infos.at(-1)!.io;
    const ms = infos
      .slice(1)
      .map((i) => i.ms)
      .sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)] ?? infos[0]!.ms;
    const line = `| ${w.name} | ${m.label}${t.deviceResident || !m.deviceState ? '' : ` (host: ${t.hostStateReason})`} | ${N.toLocaleString('en')} (${kb(4 * N)}) | ${both(first.train_step)}; ${both(first.optimizer)} | ${both(steady.train_step)} | ${both(steady.optimizer)} | **${kb(sum(steady.train_step, steady.optimizer))}** (${fmt(sum(steady.train_step, steady.optimizer) / (4 * N), 2)}× the parameters) | ${kb(readback)} | ${fmt(median, 0)} |`;
    console.log(line);
    rows.push(line);
  }
}

const md = [
  '## Training copies: bytes between host and ORT per update',
  '',
  `Command: \`npx tsx bench/training-copies.ts --steps ${steps} --write\` · ${new Date().toISOString().slice(0, 10)} · onnxruntime-node ${ortVersion()} · ${mach.cpu}, ${mach.logicalCores} logical cores, load ${fmt(mach.loadAvg1, 2)} before, ${fmt(loadAvg1(), 2)} after · WebGPU adapter: ${adapterName}`,
  '',
  'Counted by the trainer\'s runner on real sessions (src/native/training/runner.ts), reference-a models, batch 3, AdamW, no dropout. "in / out" = bytes of host feeds / host outputs of one run (CPU: feeds are wrapped without a copy, outputs copied once; WebGPU: uploaded / downloaded). "state on device" feeds the parameters, gradients and AdamW moments as gpu-buffer tensors (not counted: they never cross). Read back = one `syncToHost()` (a checkpoint, the trained parameters). ms/update: median of updates 2..n, WebGPU on the adapter named above (a software adapter\'s timings mean nothing).',
  '',
  '| workflow | mode | trainable elements | update 1: train_step in / out; optimizer in / out | steady: train_step in / out | steady: optimizer in / out | steady total per update | read back | ms/update |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(`\n${md}`);
if (args.includes('--write')) writeResultsSection('training-copies', md);
