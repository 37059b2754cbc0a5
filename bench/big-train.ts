// Training updates on the 2.7B BioMedLM-shaped text encoder (issue #15): s/step and peak RSS of a
// prompt-learning update (4 classes x (30 ctx + 25 tokens)) and of a text LoRA update (batch 8 x 64
// tokens, the app's default LoRA: r 8, alpha 32, dropout 0.1 on c_attn), each in a fresh child
// process, and the PyTorch eager peer (bench/big_train_torch.py) on the same shapes.
//
//   npx tsx bench/big-train.ts [--model /work/bigmodel/biomedlm-shape] [--threads 2] [--steps 3]
//                              [--only prompt,lora] [--lora-recompute auto,on] [--weights float32,int8]
//                              [--torch-bf16] [--no-grad-error] [--no-torch] [--write]
//                              [--lock /work/wt/bigmem.lock --memwatch /work/wt/memwatch.sh]
//
// --weights: the frozen weights of the ORT rows: float32 (exact) and/or int8 (weight-only int8,
// docs/engine.md#int8-weights; the LoRA A/B and the context stay float32). int8 rows run with the
// first --lora-recompute variant only. int8 sessions keep ORT's prepacking (MatMulNBits' int8 kernel
// needs the packed weight), float32 ones use sharedWeights as before. With float32 and int8 and
// LoRA, two more children (unless --no-grad-error) take one SGD update (lr 1e3, no decay) from the
// same initial values on the same batch and dropout seed, so (p1 - p0) / -lr is the gradient: the
// int8 LoRA gradients' error against float32's on the 2.7B shape.
// --torch-bf16: PyTorch rows also with the frozen matmul weights in bfloat16 (big_train_torch.py
// --bf16): the reduced-precision peer of the int8 rows.
//
// --lock: each child (one measurement) runs under `flock LOCK` and the memory watchdog, so the
// lock is held for one measurement at a time and released in between (machines shared with other
// big jobs).
// One update = Trainer.trainStep (train_step.onnx + optimizer.onnx, AdamW). The first update of a
// child is reported apart (it runs ORT's first-run allocations); s/step is the median of the
// others. Sessions: sharedWeights (no prepacking: a train step would otherwise hold the frozen
// weights three times, the float32 copy and two packed layouts, forward's and the transposed
// gradient's), forwardOnDemand (no forward.onnx session: one float32 copy of the frozen weights).
// Peak RSS: VmHWM of the child (ru_maxrss for PyTorch). Needs ~14 GB free: run it under the shared
// memory lock (docs/engine.md#training-memory).
//
// The prompt-learning loss is CLEFT's (promptLearningSetup: the shared-context encoder, 512 cached
// image embeddings of 768 dims, fresh CLIP heads); the LoRA loss is the CLIP loss of the 8 text
// embeddings against 8 cached image embeddings (the text side of contrastive LoRA).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadHfFolder } from '../src/native/models/hf-model';
import { bindModelWeights } from '../src/native/models/weights';
import { ParamStore } from '../src/native/models/encoders';
import { CHECKPOINT_ABOVE_BYTES, gpt2ActivationBytes, gpt2Forward, gpt2TextEmbedding, type Gpt2Config } from '../src/native/models/gpt2';
import { loraModulesFor, trainableLora } from '../src/native/models/lora';
import { parseLoraConfig, peftConfigDict } from '../src/native/formats/peft';
import { clipHead, clipLoss, headParams } from '../src/native/models/clip';
import { createHeads } from '../src/native/models/heads';
import { promptLearningSetup } from '../src/native/cleft/prompt-learning';
import { DEFAULT_LORA } from '../src/native/cleft/contrastive';
import { arrayData, optimizerConfig } from '../src/native/cleft/common';
import { DROPOUT_SEED, emitTrainingArtifacts, Trainer, type TrainingSetup } from '../src/native/training/index';
import { ortVersion } from '../src/native/runtime/ort';
import { gpt2MatmulWeights } from '../src/native/models/gpt2';
import type { WeightPrecision } from '../src/common/precision';
import { mulberry32 } from '../src/native/io/random';
import { fmt, lastJson, loadAvg1, machine, writeResultsSection } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out', 'big-train');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '3' },
    only: { type: 'string', default: 'prompt,lora' },
    'lora-recompute': { type: 'string', default: 'auto,on' },
    weights: { type: 'string', default: 'float32' },
    'torch-bf16': { type: 'boolean', default: false },
    'no-grad-error': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    child: { type: 'string' },
    lock: { type: 'string' },
    memwatch: { type: 'string', default: '/work/wt/memwatch.sh' },
  },
});
const modelDir = path.resolve(values.model);
const threads = Number(values.threads);
const steps = Number(values.steps);

/** The shapes of issue 15, shared with the PyTorch peer through a JSON file. */
export const SHAPES = { classes: 4, nCtx: 30, classTokens: 25, images: 512, imageDim: 768, projDim: 512, loraBatch: 8, loraTokens: 64 };

interface Workload {
  classIds: number[][];
  labels: number[];
  imageFeatures: number[];
  loraIds: number[][];
  loraLengths: number[];
  loraImage: number[];
}

function workload(vocab: number): Workload {
  const r = mulberry32(15);
  const S = SHAPES;
  const id = () => Math.floor(r() * (vocab - 1));
  const eos = vocab - 1;
  return {
    classIds: Array.from({ length: S.classes }, () => [...Array.from({ length: S.classTokens - 1 }, id), eos]),
    labels: Array.from({ length: S.images }, (_, i) => i % S.classes),
    imageFeatures: Array.from({ length: S.images * S.imageDim }, () => r() * 2 - 1),
    loraIds: Array.from({ length: S.loraBatch }, () => Array.from({ length: S.loraTokens }, id)),
    loraLengths: Array.from({ length: S.loraBatch }, (_, i) => S.loraTokens - 3 * i),
    loraImage: Array.from({ length: S.loraBatch * S.imageDim }, () => r() * 2 - 1),
  };
}

function status(): { hwmGiB: number; rssGiB: number; anonGiB: number; fileGiB: number } {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 2 ** 20;
  return { hwmGiB: kb('VmHWM'), rssGiB: kb('VmRSS'), anonGiB: kb('RssAnon'), fileGiB: kb('RssFile') };
}
const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

/** Text LoRA with the app's defaults, CLIP loss against cached image embeddings; int8: as contrastivePlan binds it. */
function loraSetup(dir: string, recompute: boolean, weights: WeightPrecision): TrainingSetup {
  const model = loadHfFolder(modelDir);
  const cfg = model.config as Gpt2Config;
  const heads = createHeads(cfg.nEmbd, SHAPES.imageDim, SHAPES.projDim, 1);
  const bound = bindModelWeights(model, {
    cacheDir: dir,
    ...(weights === 'int8' ? { int8: { weights: gpt2MatmulWeights(cfg), backward: true } } : {}),
  });
  const config = parseLoraConfig(
    peftConfigDict({ r: DEFAULT_LORA.r, loraAlpha: DEFAULT_LORA.alpha, targetModules: [...DEFAULT_LORA.textTargets], fanInFanOut: true }),
  );
  const modules = loraModulesFor(model, config);
  return {
    name: 'big-text-lora',
    build(ctx) {
      const g = ctx.graph;
      const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
      const lengths = g.input('lengths', 'int64', ['batch']);
      const img = g.input('image_features', 'float32', ['batch', SHAPES.imageDim]);
      ctx.dropout(g.constant([0], 'float32', [1]), 0.5); // declares the dropout seed input when training
      const seed = g.nodes.find((n) => n.leaf?.kind === 'input' && n.leaf.name === DROPOUT_SEED)?.outputs[0];
      const hooks = trainableLora(g, modules, { dropout: ctx.training ? DEFAULT_LORA.dropout : 0, ...(seed ? { seed } : {}) });
      const w = new ParamStore(g, bound.source, 'text.').forTarget(ctx.target);
      const txt = gpt2TextEmbedding(gpt2Forward(cfg, w, { inputIds: ids }, hooks, { recompute }), lengths);
      return { loss: clipLoss(clipHead(img, txt, headParams(g, heads)).logitsPerImage) };
    },
  };
}

async function child(spec: string) {
  // kind:variant:weights; kind 'grad' = one SGD update of the LoRA (its delta is the gradient)
  const [kindOrGrad, variant, weightsArg] = spec.split(':') as ['prompt' | 'lora' | 'grad', string, string | undefined];
  const grad = kindOrGrad === 'grad';
  const kind = grad ? 'lora' : kindOrGrad;
  const weights: WeightPrecision = weightsArg === 'int8' ? 'int8' : 'float32';
  const model = loadHfFolder(modelDir);
  const cfg = model.config as Gpt2Config;
  const wl = workload(cfg.vocabSize);
  const dir = path.join(OUT, `work-${kindOrGrad}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let setup: TrainingSetup;
  let data;
  let init: Map<string, Float32Array>;
  let recompute: boolean;
  const r = mulberry32(7);
  if (kind === 'prompt') {
    const rows = SHAPES.nCtx + SHAPES.classes * SHAPES.classTokens;
    recompute = variant === 'on' ? true : variant === 'off' ? false : gpt2ActivationBytes(cfg, rows) > CHECKPOINT_ABOVE_BYTES;
    setup = promptLearningSetup({
      text: { modelDir },
      heads: createHeads(cfg.nEmbd, SHAPES.imageDim, SHAPES.projDim, 1),
      classIds: wl.classIds,
      ctxShape: [SHAPES.nCtx, cfg.nEmbd],
      weightsDir: dir,
      recompute,
      weights,
    });
    data = arrayData({
      image_features: { data: Float32Array.from(wl.imageFeatures), rowShape: [SHAPES.imageDim] },
      labels: { data: BigInt64Array.from(wl.labels, BigInt), rowShape: [] },
    });
    init = new Map([['ctx', Float32Array.from({ length: SHAPES.nCtx * cfg.nEmbd }, () => (r() - 0.5) * 0.04)]]);
  } else {
    const rows = SHAPES.loraBatch * SHAPES.loraTokens;
    recompute = variant === 'on' ? true : variant === 'off' ? false : gpt2ActivationBytes(cfg, rows) > CHECKPOINT_ABOVE_BYTES;
    setup = loraSetup(dir, recompute, weights);
    data = arrayData({
      input_ids: { data: BigInt64Array.from(wl.loraIds.flat(), BigInt), rowShape: [SHAPES.loraTokens] },
      lengths: { data: BigInt64Array.from(wl.loraLengths, BigInt), rowShape: [] },
      image_features: { data: Float32Array.from(wl.loraImage), rowShape: [SHAPES.imageDim] },
    });
    init = new Map();
  }
  const lr = grad ? GRAD_LR : 1e-4;
  const optimizer = optimizerConfig(grad ? { kind: 'sgd', lr, weightDecay: 0, momentum: 0 } : { kind: 'adamw', lr });
  const manifest = emitTrainingArtifacts(setup, { dir, optimizer });
  if (kind === 'lora')
    for (const e of manifest.layout.entries)
      // PEFT's init is zero B; small random B too, so the LoRA gradients of A are not zero
      init.set(
        e.name,
        Float32Array.from({ length: e.size }, () => (r() - 0.5) * (e.name.endsWith('lora_A') ? 0.02 : 0.002)),
      );
  const emitS = (performance.now() - t0) / 1000;
  const trainer = await Trainer.create({
    artifactsDir: dir,
    data,
    batchSize: kind === 'prompt' ? SHAPES.images : SHAPES.loraBatch,
    shuffle: false,
    schedule: { kind: 'constant', lr },
    initialParams: new Map([...init].map(([k, v]) => [k, v.slice()])),
    // int8: MatMulNBits' int8 kernel needs its weight prepacked (graph/ops/quant.ts)
    session: { intraOpNumThreads: threads, sharedWeights: weights === 'float32' },
    forwardOnDemand: true,
  });
  if (grad) {
    const info = await trainer.trainStep();
    await trainer.syncToHost();
    const after = trainer.paramsByName();
    const g: Record<string, number[]> = {};
    for (const [k, p0] of init) g[k] = Array.from(after.get(k)!, (p1, i) => (p0[i]! - p1) / lr);
    const file = path.join(OUT, `grad-${weights}.json`);
    fs.writeFileSync(file, JSON.stringify({ loss: info.loss, grads: g }));
    await trainer.close();
    fs.rmSync(dir, { recursive: true, force: true });
    return { kind: 'grad' as const, weights, file, loss: info.loss, end: status() };
  }
  const createS = (performance.now() - t0) / 1000 - emitS;
  const afterCreate = status();
  const wall: number[] = [];
  const cpu: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c = process.cpuUsage();
    const info = await trainer.trainStep();
    wall.push(info.ms / 1000);
    cpu.push(cpuS(process.cpuUsage(c)));
    losses.push(info.loss);
  }
  await trainer.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    kind,
    weights,
    recompute,
    trainables: manifest.layout.total,
    trainStepNodes: manifest.files.train_step.nodes,
    emitS,
    createS,
    firstS: wall[0]!,
    stepS: median(wall.slice(1)),
    stepsS: wall,
    stepCpuS: median(cpu.slice(1)),
    losses,
    afterCreate,
    end: status(),
    totalCpuS: cpuS(process.cpuUsage(c0)),
  };
}

/** The SGD learning rate of the gradient children: lr x gradient dominates the initial values, so (p0 - p1) / lr keeps float32 precision. */
const GRAD_LR = 1e3;

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** Runs a measured child, under the shared memory lock and watchdog with --lock. */
function runMeasured(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const opts = { encoding: 'utf8' as const, maxBuffer: 1 << 26, env };
  if (!values.lock) return spawnSync(cmd, args, opts);
  const line = [cmd, ...args].map(quote).join(' ');
  const script = `${line} & p=$!; ${quote(values.memwatch)} $p; wait $p`;
  return spawnSync('flock', [values.lock, 'bash', '-c', script], opts);
}

if (values.child) {
  console.log(JSON.stringify(await child(values.child)));
  process.exit(0);
}

fs.mkdirSync(OUT, { recursive: true });
const model = loadHfFolder(modelDir);
const cfg = model.config as Gpt2Config;
const f32Bytes = model.numParameters * 4;
const kinds = values.only.split(',') as ('prompt' | 'lora')[];
for (const k of kinds) if (k !== 'prompt' && k !== 'lora') throw new Error(`--only: "${k}" is neither prompt nor lora`);
const loraVariants = values['lora-recompute'].split(',');
const weightsList = values.weights.split(',') as WeightPrecision[];
for (const w of weightsList) if (w !== 'float32' && w !== 'int8') throw new Error(`--weights: "${w}" is neither float32 nor int8`);
const torchVariants = values['torch-bf16'] ? [false, true] : [false];
const wlFile = path.join(OUT, 'workload.json');
fs.writeFileSync(wlFile, JSON.stringify({ shapes: SHAPES, ...workload(cfg.vocabSize) }));

type ChildRow = Awaited<ReturnType<typeof child>>;
type OrtRow = Exclude<ChildRow, { kind: 'grad' }> & { load: number };
type TorchRow = {
  stepS: number;
  firstS: number;
  stepsS: number[];
  stepCpuS: number;
  loadS: number;
  peakRssGiB: number;
  torch: string;
  losses: number[];
  load: number;
};
const load0 = loadAvg1();
const ort: OrtRow[] = [];
/** PyTorch rows by kind: float32 eager, and with --torch-bf16 the bf16 frozen matmul weights. */
const torch: Partial<Record<`${'prompt' | 'lora'}:${'float32' | 'bf16'}`, TorchRow | { failed: string }>> = {};
let gradError: { loss: number; maxRel: number; worst: string; cosine: number; tensors: number } | null = null;

function runChild(spec: string): ChildRow {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', spec, '--model', modelDir];
  args.push('--threads', String(threads), '--steps', String(steps));
  const r = runMeasured(process.execPath, args, { ...process.env, ORT_DISABLE_TELEMETRY: '1' });
  if (r.status !== 0) throw new Error(`ORT child ${spec} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return lastJson(r.stdout) as ChildRow;
}

function runOrt(kind: 'prompt' | 'lora', variant: string, weights: WeightPrecision): void {
  const row = { ...(runChild(`${kind}:${variant}:${weights}`) as Exclude<ChildRow, { kind: 'grad' }>), load: loadAvg1() };
  ort.push(row);
  console.log(JSON.stringify(row));
  report();
}

/** int8 LoRA gradients against float32's on the big shape: one SGD child each, same initial values, batch and dropout seed. */
function runGradError(variant: string): void {
  const read = (w: WeightPrecision) => {
    runChild(`grad:${variant}:${w}`);
    const file = path.join(OUT, `grad-${w}.json`);
    const g = JSON.parse(fs.readFileSync(file, 'utf8')) as { loss: number; grads: Record<string, number[]> };
    fs.rmSync(file, { force: true });
    return g;
  };
  const f = read('float32');
  const q = read('int8');
  let maxRel = 0;
  let worst = '';
  let dot = 0;
  let nf = 0;
  let nq = 0;
  for (const [k, ref] of Object.entries(f.grads)) {
    const got = q.grads[k]!;
    let m = 0;
    let e = 0;
    ref.forEach((r, i) => {
      m = Math.max(m, Math.abs(r));
      e = Math.max(e, Math.abs(got[i]! - r));
      dot += r * got[i]!;
      nf += r * r;
      nq += got[i]! * got[i]!;
    });
    const rel = e / Math.max(m, 1e-30);
    if (rel > maxRel) [maxRel, worst] = [rel, k];
  }
  gradError = {
    loss: Math.abs(q.loss - f.loss) / Math.abs(f.loss),
    maxRel,
    worst,
    cosine: dot / Math.sqrt(nf * nq),
    tensors: Object.keys(f.grads).length,
  };
  console.log(JSON.stringify({ gradError }));
  report();
}

function runTorch(kind: 'prompt' | 'lora', bf16: boolean): void {
  const t = runMeasured('/usr/bin/python3', [
    path.join(here, 'big_train_torch.py'),
    '--kind',
    kind,
    '--model',
    modelDir,
    '--workload',
    wlFile,
    '--threads',
    String(threads),
    '--steps',
    String(steps),
    ...(bf16 ? ['--bf16'] : []),
  ]);
  const key = `${kind}:${bf16 ? 'bf16' : 'float32'}` as const;
  // a failure (e.g. killed by the memory watchdog, out of memory) is reported instead of a time
  if (t.status !== 0) {
    const lines = t.stderr.trim().split('\n');
    const why = (lines.find((l) => l.startsWith('memwatch:')) ?? lines.at(-1) ?? '').replace(/,? killing .*/, '').slice(0, 160);
    torch[key] = { failed: `exit ${t.status ?? t.signal}: ${why}` };
  } else torch[key] = { ...(lastJson(t.stdout) as Omit<TorchRow, 'load'>), load: loadAvg1() };
  console.log(JSON.stringify(torch[key]));
  report();
}

/** Renders the section from the rows so far; with --write, after every measurement (a long run interrupted keeps what it measured). */
function report(final = false): void {
  const m = machine();
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const gib = (x: number) => `${fmt(x, 2)} GiB`;
  const label = {
    prompt: `prompt learning: ${SHAPES.classes} classes x (${SHAPES.nCtx} ctx + ${SHAPES.classTokens} tokens), ${SHAPES.images} image embeddings`,
    lora: `text LoRA r ${DEFAULT_LORA.r} on ${DEFAULT_LORA.textTargets.join(', ')}, batch ${SHAPES.loraBatch} x ${SHAPES.loraTokens} tokens`,
  };
  const each = (xs: number[]) =>
    xs
      .slice(1)
      .map((s) => fmt(s, 1))
      .join(', ');
  const ok = (t: TorchRow | { failed: string } | undefined) => (t && !('failed' in t) ? t : null);
  const ratio = (o: { stepS: number; stepCpuS: number }, t: TorchRow | null) =>
    t ? `${fmt(o.stepS / t.stepS, 2)} (CPU ${fmt(o.stepCpuS / t.stepCpuS, 2)})` : '-';
  const bf16Measured = torchVariants.includes(true);
  const rows: string[] = [];
  for (const kind of kinds) {
    const tf = ok(torch[`${kind}:float32`]);
    const tb = ok(torch[`${kind}:bf16`]);
    const bf16Col = (o: { stepS: number; stepCpuS: number } | null) => (bf16Measured ? ` ${o ? ratio(o, tb) : '-'} |` : '');
    for (const o of ort.filter((x) => x.kind === kind)) {
      const engine = `ORT${o.weights === 'int8' ? ', int8 frozen weights' : ''}, blocks ${o.recompute ? 'recomputed' : 'kept'}`;
      rows.push(
        `| ${label[kind]} | ${engine} | ${fmt(o.stepS, 2)} [${each(o.stepsS)}] (CPU ${fmt(o.stepCpuS, 1)}) | ${fmt(o.firstS, 1)} | ${fmt(o.createS, 1)} | ${gib(o.end.hwmGiB)} | ${ratio(o, tf)} |${bf16Col(o)} ${o.load} |`,
      );
    }
    for (const [t, name] of [
      [tf, 'eager'],
      [tb, 'eager, bf16 frozen matmul weights'],
    ] as const) {
      if (t)
        rows.push(
          `| ${label[kind]} | PyTorch ${t.torch} ${name} | ${fmt(t.stepS, 2)} [${each(t.stepsS)}] (CPU ${fmt(t.stepCpuS, 1)}) | ${fmt(t.firstS, 1)} | ${fmt(t.loadS, 1)} (load) | ${gib(t.peakRssGiB)} | ${t === tf ? '1 (CPU 1)' : ratio(t, tf)} |${bf16Measured ? ` ${t === tb ? '1 (CPU 1)' : ratio(t, tb)} |` : ''} ${t.load} |`,
        );
    }
    for (const [key, name] of [
      [`${kind}:float32`, 'PyTorch eager'],
      [`${kind}:bf16`, 'PyTorch eager, bf16 frozen matmul weights'],
    ] as const) {
      const t = torch[key];
      if (t && 'failed' in t)
        rows.push(`| ${label[kind]} | ${name} | did not finish: ${t.failed} | - | - | - | - |${bf16Measured ? ' - |' : ''} - |`);
    }
  }
  // first-update losses of the same batch at the same initial values: float32 against int8
  const lossDiffs = kinds.flatMap((kind) => {
    const f = ort.find((o) => o.kind === kind && o.weights === 'float32');
    const q = ort.find((o) => o.kind === kind && o.weights === 'int8');
    return f && q ? [`${kind} ${fmt((100 * Math.abs(q.losses[0]! - f.losses[0]!)) / Math.abs(f.losses[0]!), 3)} %`] : [];
  });
  const torchDiffs = kinds.flatMap((kind) => {
    const f = ok(torch[`${kind}:float32`]);
    const b = ok(torch[`${kind}:bf16`]);
    return f && b ? [`${kind} ${fmt((100 * Math.abs(b.losses[0]! - f.losses[0]!)) / Math.abs(f.losses[0]!), 3)} %`] : [];
  });
  const errorLines: string[] = [];
  if (lossDiffs.length)
    errorLines.push(
      `int8 against float32, loss of the first update (same batch, same initial values, same dropout seed): ${lossDiffs.join(', ')} relative difference.`,
    );
  if (torchDiffs.length)
    errorLines.push(
      `PyTorch with bf16 frozen matmul weights against float32, loss of the first update: ${torchDiffs.join(', ')} relative difference.`,
    );
  if (gradError)
    errorLines.push(
      `int8 LoRA gradients against float32's (one SGD update each from the same values, \`(p0 - p1) / lr\`, ${gradError.tensors} A/B tensors): max |Δ| / max |float32| per tensor up to ${fmt(100 * gradError.maxRel, 2)} % (${gradError.worst}), cosine of all gradients ${gradError.cosine.toFixed(6)}, loss ${fmt(100 * gradError.loss, 3)} %.`,
    );
  const cmd = `npx tsx bench/big-train.ts --threads ${threads} --steps ${steps} --only ${kinds.join(',')} --lora-recompute ${loraVariants.join(',')} --weights ${weightsList.join(',')}${values['torch-bf16'] ? ' --torch-bf16' : ''}${values['no-grad-error'] ? ' --no-grad-error' : ''}${values['no-torch'] ? ' --no-torch' : ''}${values.lock ? ` --lock ${values.lock}` : ''} --write`;
  const md = `## 2.7B BioMedLM-shaped text encoder: prompt-learning and LoRA updates

Command: \`${cmd}\` (model: \`npx tsx scripts/make-biomedlm-shape.ts --out ${values.model}\`)
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}, ${threads} threads; 1-min load average ${load0} before (after each row: last column).
Date: ${date}. Model: GPT-2 ${cfg.nEmbd} wide, ${cfg.nLayer} layers, ${cfg.nHead} heads, ${fmt(model.numParameters / 1e9, 3)}B parameters, random bf16 weights; float32 weight bytes ${fmt(f32Bytes / 2 ** 30, 2)} GiB. Each row is a fresh child process, one at a time.

| update | engine | s/step, median of ${steps - 1} [each] (CPU s) | first update s | session creation s | peak RSS (VmHWM) | / PyTorch float32: wall (CPU) |${bf16Measured ? ' / PyTorch bf16 weights: wall (CPU) |' : ''} load after |
|---|---|---|---|---|---|---|${bf16Measured ? '---|' : ''}---|
${rows.join('\n')}

ORT: Trainer.trainStep (train_step.onnx + AdamW optimizer.onnx), \`forwardOnDemand\` (no forward session). float32 rows: sessions with \`sharedWeights\` (no prepacking), bf16 weights in place with the Cast constant-folded (one float32 copy, anonymous memory). int8 rows (\`--weights int8\`, docs/engine.md#int8-weights): the frozen matmul weights blockwise int8 (MatMulNBits, accuracy_level 4: int8 compute), the input gradients through their transposed int8 quantization, prepacking kept (the int8 kernel needs it); LoRA A/B, the context, embeddings, biases and norms float32. Blocks recomputed = activation checkpointing per block (docs/engine.md#training-memory). Prompt learning computes the shared context once (${SHAPES.nCtx} + ${SHAPES.classes} x ${SHAPES.classTokens} = ${SHAPES.nCtx + SHAPES.classes * SHAPES.classTokens} token rows); the PyTorch peer (bench/big_train_torch.py, eager, CoOp-style) runs the ${SHAPES.classes} full sequences (${SHAPES.classes * (SHAPES.nCtx + SHAPES.classTokens)} rows) and keeps all activations (autograd); its bf16 rows keep the frozen matmul weights in bfloat16 and multiply in bfloat16 (oneDNN, avx512_bf16), everything else float32.
${errorLines.length ? errorLines.join('\n') + '\n' : ''}Goal (issue 15): updates <= 0.5 x PyTorch's time. An int8 row's ratio is int8 frozen weights against PyTorch float32 (and against PyTorch with bf16 frozen weights where measured): a reduced-precision result, not float32 against float32. Wall time on this shared 2-core machine includes the other jobs when the load average is above 2: read the CPU seconds too.`;
  if (final) console.log(md);
  if (values.write) {
    writeResultsSection('big-train', md);
    if (final) console.log('wrote bench/RESULTS.md');
  }
}

// The first variant of each kind and PyTorch before further variants, so the comparison comes first.
for (const kind of kinds) {
  const variants = kind === 'lora' ? loraVariants : ['auto'];
  for (const w of weightsList) runOrt(kind, variants[0]!, w);
  if (!values['no-torch']) for (const bf16 of torchVariants) runTorch(kind, bf16);
  for (const v of variants.slice(1)) runOrt(kind, v, 'float32');
  if (kind === 'lora' && weightsList.includes('int8') && weightsList.includes('float32') && !values['no-grad-error'])
    runGradError(variants[0]!);
}
report(true);
