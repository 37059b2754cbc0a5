// Weight-only int8 for the frozen encoders (issue #15): its error against float32 on reference-a
// and on the 2.7B BioMedLM-shaped text encoder (4 prompts), and on the 2.7B model its peak RSS
// against the float32 weight bytes and its cold and warm time. Each 2.7B variant runs in a fresh
// child process; "cold" starts from an empty ONNX cache (so int8 includes quantizing the weights),
// "cold, quantized file cached" from a cache that holds only the .q8.bin of the previous child.
//
//   npx tsx bench/int8-weights.ts [--model /work/bigmodel/biomedlm-shape] [--threads 2] [--repeats 3]
//                                 [--no-big] [--write]
//
// The 2.7B children need ~11 GB (float32) and ~4 GB (int8) free: run under the shared memory lock.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildTextEncoder, clearBuildMemo, embedImages, embedText } from '../src/native/models/embed';
import { loadHfFolder } from '../src/native/models/hf-model';
import { Gpt2Tokenizer } from '../src/native/formats/tokenizer';
import { ortVersion } from '../src/native/runtime/ort';
import { defaultInt8Threads, INT8_WORKER_MIN_VALUES } from '../src/native/models/int8-quantize';
import { mulberry32 } from '../src/native/io/random';
import type { WeightPrecision } from '../src/common/precision';
import { fmt, loadAvg1, machine, summarize, writeResultsSection } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out', 'int8-weights');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    'no-big': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    child: { type: 'string' },
    weights: { type: 'string', default: 'float32' },
  },
});
const modelDir = path.resolve(values.model);
const threads = Number(values.threads);
const repeats = Number(values.repeats);

const PROMPTS = [
  'a chest radiograph showing right lower lobe pneumonia with consolidation',
  'no acute cardiopulmonary abnormality on this frontal chest x-ray',
  'small left pleural effusion and mild cardiomegaly are present',
  'findings consistent with pulmonary edema and bilateral interstitial opacities',
];

function status() {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const gib = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 2 ** 20;
  return { hwmGiB: gib('VmHWM'), rssGiB: gib('VmRSS'), anonGiB: gib('RssAnon'), fileGiB: gib('RssFile') };
}
const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** Max abs difference, it over the largest |float32 value|, and the smallest row cosine. */
export function errors(ref: Float32Array, got: Float32Array, dim: number) {
  let maxAbs = 0;
  let maxRef = 0;
  let minCos = 1;
  for (let r = 0; r < ref.length / dim; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(ref[i]! - got[i]!));
      maxRef = Math.max(maxRef, Math.abs(ref[i]!));
      dot += ref[i]! * got[i]!;
      na += ref[i]! ** 2;
      nb += got[i]! ** 2;
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  }
  return { maxAbs, rel: maxAbs / maxRef, minCos };
}

/** One 2.7B process: cold embed of the 4 prompts, then warm embeds on the kept session. */
async function child(cacheDir: string, weights: WeightPrecision) {
  const tok = Gpt2Tokenizer.fromFolder(modelDir);
  const enc = tok.encodeBatch(PROMPTS, { maxLength: 1024 });
  const common = { modelDir, cacheDir, device: 'cpu' as const, threads, weights, lastHidden: false } as const;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  buildTextEncoder(common);
  const buildS = (performance.now() - t0) / 1000;
  const cold = await embedText({ ...common, inputIds: enc.inputIds, lengths: enc.lengths });
  const coldS = (performance.now() - t0) / 1000;
  const coldCpuS = cpuS(process.cpuUsage(c0));
  const afterCold = status();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await embedText({ ...common, inputIds: enc.inputIds, lengths: enc.lengths });
    samples.push(performance.now() - t);
  }
  const warm = summarize('warm', samples);
  return {
    buildS,
    coldS,
    coldCpuS,
    warmMedianS: warm.medianMs / 1000,
    warmQ1S: warm.q1Ms / 1000,
    warmQ3S: warm.q3Ms / 1000,
    afterCold,
    end: status(),
    dim: cold.dim,
    embedding: Array.from(cold.embedding),
  };
}
type ChildResult = Awaited<ReturnType<typeof child>>;

if (values.child) {
  console.log(JSON.stringify(await child(values.child, values.weights as WeightPrecision)));
  process.exit(0);
}

fs.mkdirSync(OUT, { recursive: true });
const m = machine();
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const load0 = loadAvg1();

// reference-a: text (GPT-2) and image (ViT, DINOv2) encoders, float32 vs int8
const REF = path.join(here, '..', 'test', 'fixtures', 'reference-a');
const refRows: string[] = [];
{
  const next = mulberry32(5);
  const cacheDir = path.join(OUT, `ref-${process.pid}`);
  fs.rmSync(cacheDir, { recursive: true, force: true });
  const seq = 16;
  const lengths = BigInt64Array.from({ length: 8 }, (_, i) => BigInt(6 + i));
  const inputIds = BigInt64Array.from({ length: 8 * seq }, (_, i) =>
    i % seq < Number(lengths[Math.floor(i / seq)]) ? BigInt(Math.floor(next() * 1000)) : 0n,
  );
  for (const adapter of [false, true]) {
    const t = {
      modelDir: path.join(REF, 'gpt2'),
      cacheDir,
      inputIds,
      lengths,
      ...(adapter ? { adapterDir: path.join(REF, 'gpt2', 'adapter') } : {}),
    };
    const f = await embedText({ ...t, onWarning: () => {} });
    const q = await embedText({ ...t, weights: 'int8', onWarning: () => {} });
    const e = errors(f.embedding, q.embedding, f.dim);
    refRows.push(
      `| GPT-2 text encoder${adapter ? ' + LoRA adapter' : ''}, 8 texts | ${e.maxAbs.toExponential(2)} | ${e.rel.toExponential(2)} | ${e.minCos.toFixed(6)} |`,
    );
  }
  for (const model of ['vit', 'dinov2']) {
    const dir = path.join(REF, model);
    if (!fs.existsSync(dir)) continue;
    const px = Float32Array.from({ length: 4 * 3 * 32 * 32 }, () => next() * 2 - 1);
    const i = { modelDir: dir, cacheDir, pixelValues: px, shape: [4, 3, 32, 32] as const, onWarning: () => {} };
    const f = await embedImages(i);
    const q = await embedImages({ ...i, weights: 'int8' });
    const e = errors(f.embedding, q.embedding, f.dim);
    refRows.push(
      `| ${model === 'vit' ? 'ViT' : 'DINOv2'} image encoder (CLS), 4 images 32x32 | ${e.maxAbs.toExponential(2)} | ${e.rel.toExponential(2)} | ${e.minCos.toFixed(6)} |`,
    );
  }
  clearBuildMemo();
  fs.rmSync(cacheDir, { recursive: true, force: true });
}

// 2.7B: float32, int8 cold (quantizing), int8 cold with the quantized file cached
let bigMd = '';
if (!values['no-big']) {
  if (!fs.existsSync(path.join(modelDir, 'config.json')))
    throw new Error(`${modelDir}: no model (make it with scripts/make-biomedlm-shape.ts)`);
  const model = loadHfFolder(modelDir);
  const f32Bytes = model.numParameters * 4;
  const runChild = (cacheDir: string, weights: WeightPrecision): ChildResult => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', cacheDir, '--model', modelDir];
    args.push('--threads', String(threads), '--repeats', String(repeats), '--weights', weights);
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`child (${weights}) failed (${r.status ?? r.signal}):\n${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
    console.log(JSON.stringify({ weights, ...res, embedding: undefined }));
    return res;
  };
  const cache = (n: string) => {
    const d = path.join(OUT, `cache-${n}-${process.pid}`);
    fs.rmSync(d, { recursive: true, force: true });
    return d;
  };
  const fDir = cache('f32');
  const f = runChild(fDir, 'float32');
  fs.rmSync(fDir, { recursive: true, force: true });
  const loadF = loadAvg1();
  const qDir = cache('int8');
  const q = runChild(qDir, 'int8');
  const q8 = fs.readdirSync(path.join(qDir, 'weights')).filter((x) => x.endsWith('.q8.bin'));
  const q8Bytes = q8.reduce((s, x) => s + fs.statSync(path.join(qDir, 'weights', x)).size, 0);
  // keep only the quantized file: the next child finds it and re-emits, re-links and creates the session
  for (const x of fs.readdirSync(qDir)) if (x.endsWith('.onnx')) fs.rmSync(path.join(qDir, x));
  clearBuildMemo();
  const q2 = runChild(qDir, 'int8');
  fs.rmSync(qDir, { recursive: true, force: true });
  const loadQ = loadAvg1();
  const e = errors(Float32Array.from(f.embedding), Float32Array.from(q.embedding), f.dim);
  const same = q.embedding.every((v, i) => Object.is(v, q2.embedding[i]));
  const ratio = (gib: number) => fmt((gib * 2 ** 30) / f32Bytes, 2);
  const row = (name: string, o: ChildResult) =>
    `| ${name} | ${fmt(o.coldS)} (CPU ${fmt(o.coldCpuS)}; emit + bind ${fmt(o.buildS)}) | ${fmt(o.warmMedianS, 2)} [${fmt(o.warmQ1S, 2)}, ${fmt(o.warmQ3S, 2)}] | ${fmt(o.end.hwmGiB, 2)} GiB = **${ratio(o.end.hwmGiB)} x** | ${fmt(o.afterCold.anonGiB, 2)} / ${fmt(o.afterCold.fileGiB, 2)} |`;
  bigMd = `
### 2.7B BioMedLM-shaped text encoder, 4 prompts

Model: ${fmt(model.numParameters / 1e9, 3)}B parameters, random bf16 weights (\`scripts/make-biomedlm-shape.ts\`); float32 weight bytes ${fmt(f32Bytes / 1e9, 2)} GB; the int8 file (\`.q8.bin\`, matmul weights only, written once) ${fmt(q8Bytes / 1e9, 2)} GB. ${threads} intra-op threads. 1-min load average ${load0} before, ${loadF} after float32, ${loadQ} after int8.

| weights | cold s (fresh child) | warm s, median [IQR] of ${repeats} | peak RSS (VmHWM) / float32 weight bytes | RSS after cold, anon / file GiB |
|---|---|---|---|---|
${row('float32 (bf16 in place + Cast, the default)', f)}
${row('int8, fresh cache (quantizes the bf16 weights)', q)}
${row('int8, quantized file cached', q2)}

Error of int8 against float32 on the 4 prompt embeddings: max |diff| ${e.maxAbs.toExponential(2)}, relative to the largest |value| ${e.rel.toExponential(2)}, smallest cosine ${e.minCos.toFixed(6)}. The two int8 children give the same bits: ${same ? 'yes' : 'NO'}.
Goal (issue 15): peak RSS <= 0.6 x float32 weight bytes with the int8 path.
`;
}

const md = `## int8 weights: error against float32, memory and time

Command: \`npx tsx bench/int8-weights.ts --threads ${threads} --repeats ${repeats}${values['no-big'] ? ' --no-big' : ''} --write\`
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}; the 2.7B weights quantized by ${defaultInt8Threads(INT8_WORKER_MIN_VALUES)} worker threads (reference-a's in the calling thread). Date: ${date}.
Weight-only int8 (\`--weights int8\`): the encoders' matmul weights in blocks of 32 along the input dimension, symmetric, one float32 scale per block, run by ORT's \`com.microsoft.MatMulNBits\` (bits 8, accuracy_level 4: activations quantized to int8 per block as well). Embeddings, layer norms, biases and attention stay float32.

### reference-a, float32 vs int8 (random token ids and pixels)

| encoder | max abs error | max abs error / max abs float32 value | smallest cosine |
|---|---|---|---|
${refRows.join('\n')}
${bigMd}`;
console.log(md);
if (values.write) {
  writeResultsSection('int8-weights', md);
  console.log('wrote bench/RESULTS.md');
}
