// WebGPU op coverage: emits every graph the engine runs (inference encoders; forward, train_step and
// optimizer of the training workflows) on the reference-a tiny models, creates each on the WebGPU EP
// in a child process with ORT's verbose log (bench/placement-child.mjs) and reads ORT's "Node
// placements" section: which nodes ORT had to put on the CPU EP. Also tries each graph with
// session.disable_cpu_ep_fallback=1 (what the engine does first on WebGPU). No timings: on a software
// adapter (lavapipe) they mean nothing.
//
// npx tsx bench/webgpu-coverage.ts [--write]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHeads } from '../src/native/models/heads';
import { readTensors, toFloat32 } from '../src/native/formats/safetensors';
import { embedImages, embedText } from '../src/native/models/embed';
import { openContrastive, type EncoderTraining } from '../src/native/cleft/contrastive';
import { openPromptLearning } from '../src/native/cleft/prompt-learning';
import { buildPromptEncoder, imageFeatures } from '../src/native/cleft/features';
import { adaptorSetup } from '../src/native/cleft/adaptor';
import { optimizerConfig } from '../src/native/cleft/common';
import { emitTrainingArtifacts } from '../src/native/training/index';
import { probeWebgpu } from '../src/native/runtime/providers';
import { listWebgpuAdapters } from '../src/native/runtime/webgpu-adapters';
import { ortVersion } from '../src/native/runtime/ort';
import { machine, writeResultsSection } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const REF = path.resolve(here, '../test/fixtures/reference-a');
const OUT = path.join(here, 'out', 'webgpu-coverage');
const R = (p: string) => path.join(REF, p);
const cases = readTensors(R('cases.safetensors'));
const f32 = (k: string) => toFloat32(cases.get(k)!);
const i64 = (k: string) => cases.get(k)!.data as BigInt64Array;

export interface Placement {
  nodes: number;
  cpu: number;
  /** CPU-placed op types with counts, e.g. { Shape: 2, LogSoftmax: 1 }. */
  cpuOps: Record<string, number>;
  /** The session could be created with session.disable_cpu_ep_fallback=1. */
  strictOk: boolean;
}

/** Parses ORT's verbose "Node placements" section (session_state.cc). */
export function parsePlacements(log: string): Omit<Placement, 'strictOk'> {
  let nodes = 0;
  let cpu = 0;
  const cpuOps: Record<string, number> = {};
  let onCpu = false;
  for (const line of log.split('\n')) {
    const all = /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (all) {
      nodes += Number(all[2]);
      if (all[1] === 'CPUExecutionProvider') cpu += Number(all[2]);
      continue;
    }
    const some = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (some) {
      onCpu = some[1] === 'CPUExecutionProvider';
      nodes += Number(some[2]);
      if (onCpu) cpu += Number(some[2]);
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{3}(\w+) \(/.exec(line);
    if (node && onCpu) cpuOps[node[1]!] = (cpuOps[node[1]!] ?? 0) + 1;
  }
  return { nodes, cpu, cpuOps };
}

function placementOf(file: string): Placement {
  const child = path.join(here, 'placement-child.mjs');
  const env = { ...process.env, ORT_DISABLE_TELEMETRY: '1' };
  const verbose = spawnSync(process.execPath, [child, file], { encoding: 'utf8', env, maxBuffer: 256 << 20 });
  if (!verbose.stdout.includes('created')) throw new Error(`${file}: ${verbose.stdout}${verbose.stderr.slice(-2000)}`);
  const strict = spawnSync(process.execPath, [child, file, 'strict'], { encoding: 'utf8', env, maxBuffer: 256 << 20 });
  return { ...parsePlacements(verbose.stderr), strictOk: strict.stdout.includes('created') };
}

const TRAIN_GRAPHS = ['forward.onnx', 'train_step.onnx', 'optimizer.onnx'];
const onnxIn = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => path.join(dir, f));

async function emitAll(): Promise<{ group: string; graph: string; file: string }[]> {
  fs.rmSync(OUT, { recursive: true, force: true });
  const graphs: { group: string; graph: string; file: string }[] = [];
  const run = (w: string) => ({
    optimizer: { kind: 'adamw' as const, lr: 1e-3 },
    steps: 1,
    batchSize: 3,
    shuffle: false,
    workDir: path.join(OUT, w),
    // Emitted (and loaded) as `--device webgpu` does: ops in the form the WebGPU EP supports.
    device: 'webgpu' as const,
  });
  const train = (group: string, dir: string) => TRAIN_GRAPHS.forEach((g) => graphs.push({ group, graph: g, file: path.join(OUT, dir, g) }));
  const heads = readHeads(R('heads.safetensors'));

  // inference encoders (cleft embed, classify, feature caches)
  const inf = (name: string) => path.join(OUT, 'inference', name);
  const device = 'webgpu' as const;
  await embedText({ modelDir: R('gpt2'), cacheDir: inf('gpt2'), inputIds: i64('text.input_ids'), lengths: i64('text.lengths'), device });
  await embedImages({
    modelDir: R('vit'),
    cacheDir: inf('vit'),
    pixelValues: f32('vit.pixel_values'),
    shape: [3, 3, 32, 32],
    pool: 'cls',
    device,
  });
  await embedImages({
    device,
    modelDir: R('dinov2'),
    cacheDir: inf('dinov2'),
    pixelValues: f32('dinov2.pixel_values'),
    shape: [3, 3, 28, 28],
    pool: 'prenorm-mean',
  });
  buildPromptEncoder({ modelDir: R('gpt2') }, 4, false, inf('prompt-encoder'), () => {}, { classes: 3, seq: 5 });
  for (const [name, label] of [
    ['gpt2', 'GPT-2 text encoder'],
    ['vit', 'ViT image encoder'],
    ['dinov2', 'DINOv2-with-registers image encoder (prenorm-mean pool)'],
    ['prompt-encoder', 'prompt encoder (GPT-2 with learned context)'],
  ] as const)
    for (const f of onnxIn(inf(name))) graphs.push({ group: `inference: ${label}`, graph: 'forward', file: f });

  const contrastive = async (dir: string, image: 'vit' | 'dinov2', text: EncoderTraining, img: EncoderTraining) => {
    const px = image === 'vit' ? f32('vit.pixel_values') : f32('dinov2.pixel_values');
    const s = image === 'vit' ? 32 : 28;
    const { wt } = await openContrastive({
      text: { modelDir: R('gpt2'), training: text },
      image: { modelDir: R(image), pool: image === 'vit' ? 'cls' : 'prenorm-mean', training: img },
      heads,
      data: { pixelValues: px, pixelShape: [3, 3, s, s], inputIds: i64('text.input_ids'), lengths: i64('text.lengths') },
      ...run(dir),
    });
    await wt.close();
  };
  const lora = (adapterDir: string | null, targets: string[]): EncoderTraining => ({ mode: 'lora', adapterDir, targets, dropout: 0 });
  await contrastive('lora-vit', 'vit', lora(R('gpt2/adapter'), []), lora(R('vit/adapter'), []));
  train('train-lora: GPT-2 + ViT, LoRA on both', 'lora-vit');
  await contrastive('lora-dinov2', 'dinov2', lora(null, ['c_attn']), lora(null, ['query', 'value']));
  train('train-lora: GPT-2 + DINOv2-reg, LoRA on both', 'lora-dinov2');
  // LoRA dropout (default 0.1): the train step hashes its dropout masks in int32 from the fed seed
  await contrastive(
    'lora-dropout',
    'vit',
    { mode: 'lora', adapterDir: null, targets: ['c_attn'], dropout: 0.1 },
    { mode: 'lora', adapterDir: null, targets: ['query', 'value'], dropout: 0.1 },
  );
  graphs.push({
    group: 'train-lora: GPT-2 + ViT, LoRA dropout 0.1 (forward and optimizer as without dropout)',
    graph: 'train_step.onnx',
    file: path.join(OUT, 'lora-dropout', 'train_step.onnx'),
  });
  await contrastive('lora-off', 'vit', { mode: 'frozen' }, { mode: 'frozen' });
  train('train-lora: LoRA off (frozen encoders, heads train)', 'lora-off');
  await contrastive('full', 'dinov2', { mode: 'frozen' }, { mode: 'full' });
  train('full image encoder (DINOv2-reg, --image-blocks)', 'full');

  const feats = await imageFeatures({ modelDir: R('vit'), pool: 'cls' }, f32('vit.pixel_values'), [3, 3, 32, 32], {
    cacheDir: path.join(OUT, 'pl-cache'),
  });
  const pl = await openPromptLearning({
    text: { modelDir: R('gpt2') },
    heads,
    imageFeatures: feats.features,
    labels: Array.from(i64('prompt.labels'), Number),
    classIds: [0, 1, 2].map((c) => Array.from(i64(`prompt.class_ids.${c}`), Number)),
    init: { kind: 'values', ctx: f32('prompt.ctx'), shape: cases.get('prompt.ctx')!.shape },
    ...run('prompt'),
  });
  await pl.wt.close();
  train('prompt-learn (frozen GPT-2, context vectors)', 'prompt');

  emitTrainingArtifacts(adaptorSetup(48, 64, 32, 2), {
    dir: path.join(OUT, 'adaptor'),
    optimizer: optimizerConfig({ kind: 'adamw', lr: 1e-3 }),
    target: 'webgpu',
    batchShapes: { image_features: [3, 48], text_features: [3, 64] },
  });
  train('train-adaptor (2 layers, width 32)', 'adaptor');
  return graphs;
}

const why = await probeWebgpu();
if (why !== undefined) {
  console.error(`webgpu-coverage: no WebGPU adapter here: ${why}`);
  process.exit(1);
}
const adapters = listWebgpuAdapters().adapters;
const adapterName = adapters.map((a) => `${a.name} (${a.vendor}, ${a.backend}${a.type ? `, ${a.type}` : ''})`).join('; ') || 'not listed';
const graphs = await emitAll();
const rows: string[] = [];
let full = 0;
for (const g of graphs) {
  const p = placementOf(g.file);
  if (p.cpu === 0) full++;
  const ops = Object.entries(p.cpuOps)
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => (n > 1 ? `${op} x${n}` : op))
    .join(', ');
  rows.push(
    `| ${g.group} | ${g.graph.replace(/\.onnx$/, '')} | ${p.nodes} | ${p.nodes - p.cpu} | ${p.cpu} | ${ops || '-'} | ${p.strictOk ? 'yes' : 'no'} |`,
  );
  console.log(rows.at(-1));
}
const m = machine();
const md = [
  '## WebGPU op coverage per graph',
  '',
  'Command: `npx tsx bench/webgpu-coverage.ts --write`',
  `Adapter: ${adapterName}. onnxruntime-node ${ortVersion()}, Node ${m.node}, ${m.platform}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  'Graphs of the reference-a tiny models (test/fixtures/reference-a), emitted as `--device webgpu` emits them (static shapes, WebGPU op forms: docs/engine.md#webgpu-coverage); node counts after ORT\'s graph optimisations, placement from ORT\'s verbose "Node placements" log. "strict" = the session can be created with `session.disable_cpu_ep_fallback=1`. No timings: on a software adapter they mean nothing; a run on a real GPU fills them in.',
  '',
  '| workflow | graph | nodes | on WebGPU | on CPU | ops on CPU | strict |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  '',
  `${full} of ${graphs.length} graphs run entirely on WebGPU.`,
].join('\n');
console.log(`\n${full} of ${graphs.length} graphs run entirely on WebGPU (adapter: ${adapterName})`);
if (process.argv.includes('--write')) writeResultsSection('webgpu-coverage', md);
