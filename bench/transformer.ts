// Forward and forward+backward (train_step) of a 12-layer, 768-wide pre-LN transformer (GPT-2 small
// shaped) with LoRA r=8 on the attention projections (c_attn, c_proj) trainable and everything else
// frozen, batch 8 x 64 tokens, against the MatMul ceiling measured in the same process.
//
//   npx tsx bench/transformer.ts [--threads 2] [--repeats 10] [--warmup 3] [--no-torch] [--profile] [--write]
//
// Frozen weights are random, in bench/out/transformer/weights.safetensors (gitignored), bound as ONNX
// external data pointing into (a hard link of) that file. Head: mean-pooled final hidden state -> frozen 768x512
// projection -> L2 norm -> InfoNCE against fed targets (CLEFT-like). Variants: prepacked weights
// (a lone session) and `sharedWeights` (disable_prepacking, what sessions sharing mapped weights use).
// The PyTorch peer (bench/transformer_torch.py) runs as a child process with 2 threads when
// /usr/bin/python3 has torch.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { emitOnnx, Graph, ops } from '../src/native/graph/index';
import { safetensorsWeightRefs } from '../src/native/formats/hf-folder';
import { bindWeights, type BoundWeights } from '../src/native/models/weights';
import { readSafetensorsHeader, writeSafetensorsStreaming } from '../src/native/formats/safetensors';
import { ort, ortVersion, type OrtSession, type OrtTensor } from '../src/native/runtime/ort';
import { toOrtSessionOptions, type EngineSessionOptions } from '../src/native/runtime/session-options';
import { baseParamShapes, type TransformerConfig, transformer } from '../test/helpers/transformer';
import { emitTrainingArtifacts, linear, Trainer, type TrainingManifest, type TrainingSetup } from '../src/native/training/index';
import { mulberry32 } from '../src/native/io/random';
import { matmulModel } from '../test/unit/native/runtime/helpers/onnx-min';
import { fmt, loadAvg1, machine, measure, summarize, writeResultsSection, type Stats } from './harness';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    'no-torch': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const opts = { repeats: Number(values.repeats), warmup: Number(values.warmup) };
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, 'out', 'transformer');
fs.mkdirSync(dir, { recursive: true });

const B = 8;
const T = 64;
const P = 512; // projection width
const cfg: TransformerConfig = {
  vocab: 50257,
  ctx: 1024,
  dim: 768,
  heads: 12,
  layers: 12,
  lora: { rank: 8, alpha: 32, targets: ['c_attn', 'c_proj'] },
};
const D = cfg.dim;
const R = cfg.lora!.rank;

// ------------------------------------------------------------------ frozen weights (random, cached)
const weightsFile = path.join(dir, 'weights.safetensors');
const shapes = new Map([...baseParamShapes(cfg), ['proj.weight', [D, P]]]);
function ensureWeights(): void {
  if (fs.existsSync(weightsFile)) {
    const h = readSafetensorsHeader(weightsFile);
    if ([...shapes].every(([n, s]) => h.tensors.get(n)?.shape.join(',') === s.join(','))) return;
  }
  console.log(`writing random weights to ${path.relative(process.cwd(), weightsFile)} ...`);
  const rand = mulberry32(1234);
  const specs = [...shapes].map(([name, shape]) => ({ name, dtype: 'F32' as const, shape }));
  writeSafetensorsStreaming(weightsFile, specs, (name) => {
    const shape = shapes.get(name)!;
    const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/ln_\d\.weight|ln_f\.weight/.test(name)) return out.fill(1);
    if (/\.bias$/.test(name)) return out;
    const a = 0.02 * Math.sqrt(3); // uniform with std 0.02
    for (let i = 0; i < out.length; i++) out[i] = a * (2 * rand() - 1);
    return out;
  });
}
ensureWeights();
// The engine's one way to bind weights: hard links under <modelDir>/weights/, where the .onnx files go.
function bindInto(modelDir: string): BoundWeights {
  return bindWeights(safetensorsWeightRefs(weightsFile), { cacheDir: modelDir });
}

// ------------------------------------------------------------------ setup and artifacts
function makeSetup(c: TransformerConfig, bound: BoundWeights): TrainingSetup {
  return {
    name: 'gpt2-small-lora-r8',
    build(ctx) {
      const g = ctx.graph;
      const frozen = (n: string, shape: number[]) => g.param(n, shape, { value: bound.source.value(n) });
      const ids = g.input('ids', 'int64', ['batch', 'seq']);
      const targets = g.input('targets', 'float32', ['batch', P]);
      const labels = g.input('labels', 'int64', ['batch']);
      const h = transformer(ctx, c, ids, (n, shape) => (/lora_[AB]$/.test(n) ? g.param(n, shape, { trainable: true }) : frozen(n, shape)));
      const e = linear(h.mean(1), frozen('proj.weight', [D, P])).l2normalize(-1);
      const logits = e.matmul(targets.transpose()).mul(1 / 0.07);
      return { loss: ops.crossEntropy(logits, labels), outputs: { loss: ops.crossEntropy(logits, labels), embeds: e } };
    },
  };
}
const setup = makeSetup(cfg, bindInto(dir));
// The same model with the generic MatMul/Gelu gradient rules of src/native/graph, to measure what
// `linear`/`geluTanh` buy (bindInto hard-links the weights under its folder too).
const genericDir = path.join(dir, 'generic');
fs.mkdirSync(genericDir, { recursive: true });
emitTrainingArtifacts(makeSetup({ ...cfg, genericOps: true }, bindInto(genericDir)), {
  dir: genericDir,
  optimizer: { kind: 'adamw', weightDecay: 0 },
});
const t0 = performance.now();
const manifest: TrainingManifest = emitTrainingArtifacts(setup, { dir, optimizer: { kind: 'adamw', weightDecay: 0 } });
const emitMs = performance.now() - t0;
console.log(
  `artifacts in ${fmt(emitMs, 0)} ms: forward ${manifest.files.forward.nodes} nodes, train_step ${manifest.files.train_step.nodes} nodes, ` +
    `optimizer ${manifest.files.optimizer.nodes} nodes; ${manifest.layout.total} trainable elements in ${manifest.layout.entries.length} tensors`,
);

// ------------------------------------------------------------------ feeds
const rand = mulberry32(99);
const feeds: Record<string, OrtTensor> = {
  ids: new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rand() * cfg.vocab))),
    [B, T],
  ),
  targets: new ort.Tensor(
    'float32',
    normalizeRows(
      Float32Array.from({ length: B * P }, () => rand() - 0.5),
      P,
    ),
    [B, P],
  ),
  labels: new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: B }, (_, i) => BigInt(i)),
    [B],
  ),
};
const lora = new Map<string, Float32Array>();
for (const e of manifest.layout.entries) {
  const v = Float32Array.from({ length: e.size }, () => (rand() - 0.5) * (e.name.endsWith('lora_A') ? 0.2 : 0.02));
  lora.set(e.name, v);
  feeds[e.name] = new ort.Tensor('float32', v, e.shape);
}
function normalizeRows(x: Float32Array, n: number): Float32Array {
  for (let r = 0; r < x.length / n; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[r * n + i]! ** 2;
    for (let i = 0; i < n; i++) x[r * n + i]! /= Math.sqrt(s);
  }
  return x;
}
const fwdFeeds = Object.fromEntries(Object.entries(feeds).filter(([k]) => manifest.files.forward.inputs.some((i) => i.name === k)));

// ------------------------------------------------------------------ FLOPs (2 x multiply-adds of the matmuls)
const M = B * T;
const L = cfg.layers;
const linearF = 2 * M * 12 * D * D; // c_attn 3d², c_proj d², c_fc 4d², mlp c_proj 4d²
const attnF = 2 * 2 * B * T * T * D; // QKᵀ and AV
const loraF = 2 * M * (D * R + R * 3 * D) + 2 * M * (D * R + R * D);
const headF = 2 * B * D * P + 2 * B * P * B;
const fwdFlop = L * (linearF + attnF + loraF) + headF;
// backward for LoRA only: dX through every frozen linear (except layer 0's c_attn input, which
// nothing trainable needs), 4 attention matmuls, LoRA: dB, d(xA), dA, dX through the adapter.
const bwdFlop = L * (linearF + 2 * attnF + 2 * loraF) - 2 * M * 3 * D * D + headF;
const stepFlop = fwdFlop + bwdFlop;

// ------------------------------------------------------------------ sessions
type Sess = OrtSession;
async function session(file: string, o: EngineSessionOptions & { dir?: string }, profile = false): Promise<Sess> {
  const { dir: from = dir, ...eo } = o;
  const so = toOrtSessionOptions({ intraOpNumThreads: threads, graphOptimizationLevel: 'all', ...eo });
  if (profile) Object.assign(so, { enableProfiling: true, profileFilePrefix: path.join(dir, `profile-${path.basename(file, '.onnx')}`) });
  return ort.InferenceSession.create(path.join(from, file), so);
}

// Timing is interleaved: every round runs the ceiling MatMul and each variant once, so load from
// other processes on this shared machine hits all of them alike and the ratios stay meaningful.
const n2048 = 2048;
const ceilSession = await ort.InferenceSession.create(
  matmulModel(n2048, n2048, n2048),
  toOrtSessionOptions({ intraOpNumThreads: threads }),
);
const ceilFeeds = {
  a: new ort.Tensor(
    'float32',
    Float32Array.from({ length: n2048 * n2048 }, () => rand() - 0.5),
    [n2048, n2048],
  ),
  b: new ort.Tensor(
    'float32',
    Float32Array.from({ length: n2048 * n2048 }, () => rand() - 0.5),
    [n2048, n2048],
  ),
};

const m = machine();
console.log(`ORT ${ortVersion()}, ${m.cpu}, ${m.logicalCores} cores, ${threads} threads, load ${m.loadAvg1}`);

interface Row {
  variant: string;
  fwd: Stats;
  step: Stats;
  /** Median process CPU ms per run. */
  fwdCpu: number;
  stepCpu: number;
}
const variants = [
  ['prepacked weights (lone session)', {}],
  ['sharedWeights (disable_prepacking)', { sharedWeights: true }],
  ['generic MatMul/Gelu gradient rules, prepacked', { dir: genericDir }],
] as const;
const sessions: { variant: string; fwd: Sess; step: Sess }[] = [];
for (const [variant, o] of variants) {
  const fwd = await session('forward.onnx', o);
  const step = await session('train_step.onnx', o);
  // a fast wrong answer is worthless: the train step's loss equals the forward loss, and its
  // gradient agrees with a directional finite difference of the forward graph
  const lf = ((await fwd.run(fwdFeeds)).loss!.data as Float32Array)[0]!;
  const out = await step.run(feeds);
  const ls = (out.loss!.data as Float32Array)[0]!;
  if (Math.abs(lf - ls) > 1e-5 * Math.abs(lf)) throw new Error(`train_step loss ${ls} differs from forward loss ${lf}`);
  if (sessions.length === 0) await directionalCheck(fwd, out);
  sessions.push({ variant, fwd, step });
}
const jobs: [string, () => Promise<unknown>][] = [['ceiling', () => ceilSession.run(ceilFeeds)]];
for (const s of sessions) jobs.push([`fwd|${s.variant}`, () => s.fwd.run(fwdFeeds)], [`step|${s.variant}`, () => s.step.run(feeds)]);
// Wall time and process CPU time (all ORT threads) per run: on a loaded machine wall time inflates
// with waiting, CPU time much less, so CPU-time ratios are the load-robust comparison.
const samples = new Map<string, number[]>(jobs.map(([k]) => [k, []]));
const cpu = new Map<string, number[]>(jobs.map(([k]) => [k, []]));
for (let r = 0; r < opts.warmup + opts.repeats; r++) {
  for (const [k, fn] of jobs) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    await fn();
    const dt = performance.now() - t;
    const c = process.cpuUsage(c0);
    if (r >= opts.warmup) {
      samples.get(k)!.push(dt);
      cpu.get(k)!.push((c.user + c.system) / 1e3);
    }
  }
}
const cpuMed = (k: string) => summarize(k, cpu.get(k)!).medianMs;
const ceil = summarize('MatMul 2048³', samples.get('ceiling')!);
const ceilG = (2 * n2048 ** 3) / 1e9 / (ceil.medianMs / 1e3);
console.log(`MatMul ceiling: ${fmt(ceilG)} GFLOP/s (median ${fmt(ceil.medianMs)} ms)`);
const ceilCpuG = (2 * n2048 ** 3) / 1e9 / (cpuMed('ceiling') / 1e3); // GFLOP per CPU-second
const rows: Row[] = sessions.map((s) => ({
  variant: s.variant,
  fwdCpu: cpuMed(`fwd|${s.variant}`),
  stepCpu: cpuMed(`step|${s.variant}`),
  fwd: summarize(`forward, ${s.variant}`, samples.get(`fwd|${s.variant}`)!),
  step: summarize(`train_step, ${s.variant}`, samples.get(`step|${s.variant}`)!),
}));
for (const { variant, fwd: fs1, step: ss, fwdCpu, stepCpu } of rows)
  console.log(
    `${variant.padEnd(38)} forward ${fmt(fs1.medianMs)} ms (${fmt(fwdFlop / 1e6 / fs1.medianMs)} GFLOP/s, ${fmt((100 * fwdFlop) / 1e6 / fs1.medianMs / ceilG)}% of ceiling), ` +
      `fwd+bwd ${fmt(ss.medianMs)} ms (${fmt(stepFlop / 1e6 / ss.medianMs)} GFLOP/s), ratio ${fmt(ss.medianMs / fs1.medianMs, 2)}; CPU ${fmt(fwdCpu)} / ${fmt(stepCpu)} ms, ratio ${fmt(stepCpu / fwdCpu, 2)}`,
  );
for (const s of sessions) {
  await s.fwd.release();
  await s.step.release();
}
await ceilSession.release();

async function directionalCheck(fwd: Sess, out: Record<string, OrtTensor>): Promise<void> {
  // L(θ + εd) − L(θ − εd) ≈ 2ε ⟨∇L, d⟩ along a random direction d over all LoRA tensors
  const eps = 1e-2;
  const r = mulberry32(5);
  let dot = 0;
  const plus: Record<string, OrtTensor> = { ...fwdFeeds };
  const minus: Record<string, OrtTensor> = { ...fwdFeeds };
  for (const [name, v] of lora) {
    const d = Float32Array.from(v, () => r() - 0.5);
    const gr = out[`grad.${name}`]!.data as Float32Array;
    for (let i = 0; i < v.length; i++) dot += gr[i]! * d[i]!;
    const scaleD = name.endsWith('lora_A') ? 1 : 0.1;
    plus[name] = new ort.Tensor(
      'float32',
      v.map((x, i) => x + eps * scaleD * d[i]!),
      [...feeds[name]!.dims],
    );
    minus[name] = new ort.Tensor(
      'float32',
      v.map((x, i) => x - eps * scaleD * d[i]!),
      [...feeds[name]!.dims],
    );
    if (scaleD !== 1) for (let i = 0; i < v.length; i++) dot += gr[i]! * d[i]! * (scaleD - 1);
  }
  const lp = ((await fwd.run(plus)).loss!.data as Float32Array)[0]!;
  const lm = ((await fwd.run(minus)).loss!.data as Float32Array)[0]!;
  const fd = (lp - lm) / (2 * eps);
  console.log(`gradient check: directional FD ${fd.toExponential(4)} vs analytic ${dot.toExponential(4)}`);
  if (Math.abs(fd - dot) > 0.05 * Math.abs(dot) + 1e-4)
    throw new Error(`train_step gradient disagrees with finite differences: ${fd} vs ${dot}`);
}

// ------------------------------------------------------------------ the whole trainer step (train_step + optimizer + JS)
const batchWire = {
  ids: { type: 'int64' as const, dims: [B, T], data: feeds.ids!.data as BigInt64Array },
  targets: { type: 'float32' as const, dims: [B, P], data: feeds.targets!.data as Float32Array },
  labels: { type: 'int64' as const, dims: [B], data: feeds.labels!.data as BigInt64Array },
};
const trainer = await Trainer.create({
  artifactsDir: dir,
  data: { size: B, batch: () => batchWire },
  batchSize: B,
  schedule: { kind: 'constant', lr: 1e-4 },
  initialParams: lora,
  session: { intraOpNumThreads: threads, graphOptimizationLevel: 'all' },
});
const trainerStats = await measure('Trainer.trainStep', () => trainer.trainStep(), {
  warmup: 1,
  repeats: Math.max(3, Math.ceil(opts.repeats / 2)),
});
await trainer.close();
console.log(`Trainer.trainStep (train_step + optimizer + JS): median ${fmt(trainerStats.medianMs)} ms`);

// ------------------------------------------------------------------ optimizer and gradient accumulation
const N = manifest.layout.total;
const opt = await session('optimizer.onnx', {});
const flat = (v: number) => new ort.Tensor('float32', new Float32Array(N).fill(v), [N]);
const optFeeds = {
  params: flat(0.1),
  grads: flat(0.01),
  m: flat(0),
  v: flat(0),
  step: new ort.Tensor('int64', BigInt64Array.of(1n), []),
  lr: new ort.Tensor('float32', Float32Array.of(1e-3), []),
  max_norm: new ort.Tensor('float32', Float32Array.of(1), []),
};
const optStats = await measure('optimizer (AdamW + clipping)', () => opt.run(optFeeds), { warmup: 5, repeats: 50 });
await opt.release();

// accumulation: JS loop over the per-tensor gradient outputs vs an Add session, for N (LoRA) and 10M
async function accumulation(n: number): Promise<{ js: Stats; ort: Stats }> {
  const acc = new Float32Array(n);
  const gr = new Float32Array(n).fill(1e-3);
  const js = await measure(
    `accumulate ${n} in JS`,
    () => {
      for (let i = 0; i < n; i++) acc[i]! += gr[i]!;
    },
    { warmup: 5, repeats: 50 },
  );
  const ag = new Graph();
  const sum = ag.input('a', 'float32', [n]).add(ag.input('b', 'float32', [n]));
  const addModel = await ort.InferenceSession.create(
    emitOnnx(ag, { outputs: { c: sum } }).bytes,
    toOrtSessionOptions({ intraOpNumThreads: threads }),
  );
  let accT: OrtTensor = new ort.Tensor('float32', acc, [n]);
  const grT = new ort.Tensor('float32', gr, [n]);
  const st = await measure(
    `accumulate ${n} in ORT (Add)`,
    async () => {
      accT = (await addModel.run({ a: accT, b: grT })).c!;
    },
    { warmup: 5, repeats: 50 },
  );
  await addModel.release();
  return { js, ort: st };
}
const accSmall = await accumulation(N);
const accLarge = await accumulation(10_000_000);

// ------------------------------------------------------------------ memory a train_step session adds at load
const rss: { variant: string; shared: number; prepacked: number }[] = [];
for (const [variant, d] of [
  ['linear/geluTanh rules (src/native/training)', dir],
  ['generic MatMul/Gelu rules (src/native/graph)', genericDir],
] as const) {
  const one = (mode: string) =>
    (
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', path.join(here, 'session-rss.ts'), d, mode], { encoding: 'utf8' })
          .trim()
          .split('\n')
          .at(-1)!,
      ) as { rssAddedMB: number }
    ).rssAddedMB;
  rss.push({ variant, shared: one('shared'), prepacked: one('prepacked') });
}

// ------------------------------------------------------------------ PyTorch peer
interface TorchOut {
  torch: string;
  threads: number;
  forward: { median: number; q1: number; q3: number };
  fwd_bwd: { median: number; q1: number; q3: number };
}
let torchOut: TorchOut | null = null;
let torchNote = '';
if (!values['no-torch']) {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    const txt = execFileSync(
      '/usr/bin/python3',
      [
        path.join(here, 'transformer_torch.py'),
        '--threads',
        String(threads),
        '--repeats',
        String(opts.repeats),
        '--warmup',
        String(opts.warmup),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
        maxBuffer: 1 << 24,
      },
    );
    torchOut = JSON.parse(txt) as TorchOut;
  } catch (e) {
    torchNote = `PyTorch peer not run: ${(e as Error).message.split('\n')[0]}`;
  }
} else torchNote = 'PyTorch peer skipped (--no-torch).';

if (values.profile) {
  const fwd = await session('forward.onnx', {}, true);
  const step = await session('train_step.onnx', {}, true);
  for (let i = 0; i < 3; i++) {
    await fwd.run(fwdFeeds);
    await step.run(feeds);
  }
  // endProfiling is available on the Node binding's session handler
  for (const s of [fwd, step]) (s as unknown as { endProfiling(): void }).endProfiling?.();
  console.log(`profiles written to ${dir}/profile-*.json`);
}

const loadAfter = loadAvg1();
console.log(`1-min load average: ${m.loadAvg1} before, ${loadAfter} after`);
const g = (flop: number, s: Stats) => fmt(flop / 1e6 / s.medianMs);
const lines = [
  '## Transformer: forward and LoRA train step (12 layers, 768 wide, batch 8 x 64)',
  '',
  `Command: \`npx tsx bench/transformer.ts --threads ${threads} --repeats ${opts.repeats} --warmup ${opts.warmup}${values['no-torch'] ? ' --no-torch' : ''} --write\``,
  `Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}, ${threads} intra-op threads, graph optimisation 'all'; 1-min load average ${m.loadAvg1} before, ${loadAfter} after (the bench keeps ~${threads} busy; more means other work competed and the figures are pessimistic).`,
  `Date: ${new Date().toISOString().slice(0, 10)}. ${opts.warmup} warmup + ${opts.repeats} timed rounds; each round runs the ceiling MatMul and every variant once (interleaved, so load swings hit all rows alike).`,
  '',
  `Model: pre-LN GPT-2-small shape (vocab 50257, 12 layers, d=768, 12 heads, tanh GELU), frozen random weights as external data in \`bench/out/transformer/weights.safetensors\`, LoRA r=8 (alpha 32) on c_attn and c_proj trainable (${N} elements in ${manifest.layout.entries.length} tensors); head: mean-pooled final state -> frozen 768x512 projection -> L2 norm -> InfoNCE against fed targets. Graphs: forward ${manifest.files.forward.nodes} ONNX nodes, train_step ${manifest.files.train_step.nodes}, optimizer ${manifest.files.optimizer.nodes}.`,
  `FLOPs (2 x multiply-adds of matmuls): forward ${fmt(fwdFlop / 1e9, 2)} GFLOP; forward+backward for LoRA ${fmt(stepFlop / 1e9, 2)} GFLOP (backward: input gradients through every frozen linear, 4 attention matmuls, LoRA grads; no frozen weight gradients), ideal ratio ${fmt(stepFlop / fwdFlop, 2)}.`,
  `MatMul ceiling measured in the same process, interleaved with the rows below: 2048³ float32, median ${fmt(ceil.medianMs)} ms = **${fmt(ceilG)} GFLOP/s** (IQR ${fmt(ceil.q1Ms)}-${fmt(ceil.q3Ms)} ms).`,
  '',
  '| variant | forward median ms (IQR) | forward GFLOP/s | % of ceiling | fwd+bwd median ms (IQR) | fwd+bwd GFLOP/s | fwd+bwd / fwd |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.variant} | ${fmt(r.fwd.medianMs)} (${fmt(r.fwd.q1Ms)}-${fmt(r.fwd.q3Ms)}) | ${g(fwdFlop, r.fwd)} | ${fmt((100 * fwdFlop) / 1e6 / r.fwd.medianMs / ceilG)}% | ${fmt(r.step.medianMs)} (${fmt(r.step.q1Ms)}-${fmt(r.step.q3Ms)}) | ${g(stepFlop, r.step)} | ${fmt(r.step.medianMs / r.fwd.medianMs, 2)} |`,
  ),
  ...(torchOut
    ? [
        `| PyTorch ${torchOut.torch} eager, ${torchOut.threads} threads, OpenBLAS (peer) | ${fmt(torchOut.forward.median)} (${fmt(torchOut.forward.q1)}-${fmt(torchOut.forward.q3)}) | ${fmt(fwdFlop / 1e6 / torchOut.forward.median)} | ${fmt((100 * fwdFlop) / 1e6 / torchOut.forward.median / ceilG)}% | ${fmt(torchOut.fwd_bwd.median)} (${fmt(torchOut.fwd_bwd.q1)}-${fmt(torchOut.fwd_bwd.q3)}) | ${fmt(stepFlop / 1e6 / torchOut.fwd_bwd.median)} | ${fmt(torchOut.fwd_bwd.median / torchOut.forward.median, 2)} |`,
      ]
    : []),
  '',
  `Process CPU time per run (all threads; less sensitive to load than wall time). Ceiling: ${fmt(cpuMed('ceiling'))} CPU-ms per 2048³ MatMul = ${fmt(ceilCpuG)} GFLOP per CPU-second.`,
  '',
  '| variant | forward CPU ms | forward GFLOP/CPU-s (% of ceiling) | fwd+bwd CPU ms | fwd+bwd GFLOP/CPU-s | fwd+bwd / fwd (CPU) |',
  '|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.variant} | ${fmt(r.fwdCpu)} | ${fmt(fwdFlop / 1e6 / r.fwdCpu)} (${fmt((100 * fwdFlop) / 1e6 / r.fwdCpu / ceilCpuG)}%) | ${fmt(r.stepCpu)} | ${fmt(stepFlop / 1e6 / r.stepCpu)} | ${fmt(r.stepCpu / r.fwdCpu, 2)} |`,
  ),

  '',
  "Notes: the ceiling MatMul has both operands fed, so MLAS packs B on every run; model weights are constants (prepacked unless `sharedWeights`), so a model can exceed 100% of this ceiling. The generic-rules row is the same model built with `x.matmul(W)` and `x.gelu('tanh')` (the gradient rules in src/native/graph): its forward graph is op-for-op the same as the first row, so differences between their forward columns are noise.",
  '',
  'Resident memory a train_step session adds at load (fresh process each, `bench/session-rss.ts`):',
  '',
  '| gradient rules | sharedWeights (disable_prepacking) | prepacked |',
  '|---|---|---|',
  ...rss.map((r) => `| ${r.variant} | +${fmt(r.shared, 0)} MB | +${fmt(r.prepacked, 0)} MB |`),
  '',
  'With the generic MatMul rule ORT constant-folds `Transpose(W)` of every frozen weight into a second in-memory copy (~340 MB here), which defeats memory-mapped sharing; `linear` computes dx with `Gemm(transB=1)` and keeps the weights mapped.',
  '',
  torchOut
    ? `ORT (prepacked) vs PyTorch: forward ${fmt(torchOut.forward.median / rows[0]!.fwd.medianMs, 2)}x faster, fwd+bwd ${fmt(torchOut.fwd_bwd.median / rows[0]!.step.medianMs, 2)}x faster (PyTorch time / ORT time; bench/transformer_torch.py, Debian python3-torch with libopenblas0-pthread, OPENBLAS_NUM_THREADS=${threads}; run after the ORT rows, not interleaved, so load may differ).`
    : torchNote,
  '',
  `Trainer.trainStep (train_step + optimizer + JS bookkeeping, prepacked, not interleaved): median ${fmt(trainerStats.medianMs)} ms (IQR ${fmt(trainerStats.q1Ms)}-${fmt(trainerStats.q3Ms)}).`,
  `Optimizer (AdamW + global-norm clipping over the flat ${N}-element vector): median ${fmt(optStats.medianMs, 2)} ms (IQR ${fmt(optStats.q1Ms, 2)}-${fmt(optStats.q3Ms, 2)}).`,
  `Gradient accumulation (sum one micro-batch's gradients into the accumulator): ${N} elements: JS loop ${fmt(accSmall.js.medianMs, 3)} ms vs ORT Add session ${fmt(accSmall.ort.medianMs, 3)} ms; 10M elements: JS ${fmt(accLarge.js.medianMs, 2)} ms vs ORT ${fmt(accLarge.ort.medianMs, 2)} ms. The trainer sums in JS.`,
];
if (values.write) {
  writeResultsSection('transformer', lines.join('\n'));
  console.log('bench/RESULTS.md updated (section "transformer")');
} else console.log(lines.join('\n'));
