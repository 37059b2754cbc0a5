// Where the int8 path's one-time quantization spends its time (issue #15, "cold <= 60 s including any
// one-time conversion"): on one 2560 x 7680 bf16 weight (GPT-2 Conv1D layout, BioMedLM's c_attn) the
// earlier steps (bf16 -> float32, float32 transpose, quantizeInt8) against quantizeStored; on the
// 2.7B model, reading, quantizing and writing in one thread, and the whole .q8.bin as bindWeights
// writes it with 0 and with the default worker threads (CPU includes the workers').
//
//   npx tsx bench/int8-quantize.ts [--model /work/bigmodel/biomedlm-shape] [--repeats 3] [--write]
//
// Memory: under 1 GB (one weight at a time); the model files are read through the page cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bf16ToF32 } from '../src/native/formats/safetensors';
import { readWeightBytes } from '../src/native/formats/hf-folder';
import { quantizeInt8, quantizeStored, transposeF32, type QuantTarget } from '../src/native/graph/ops/quant';
import { loadHfFolder } from '../src/native/models/hf-model';
import { gpt2MatmulWeights } from '../src/native/models/gpt2';
import { bindModelWeights } from '../src/native/models/weights';
import { defaultInt8Threads, INT8_WORKER_MIN_VALUES } from '../src/native/models/int8-quantize';
import { mulberry32 } from '../src/native/io/random';
import { fmt, loadAvg1, machine, summarize, writeResultsSection } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out', 'int8-quantize');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    repeats: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const repeats = Number(values.repeats);
const modelDir = path.resolve(values.model);
const m = machine();
const load0 = loadAvg1();
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** Median ms of `repeats` runs (after one warm-up). */
function time(fn: () => unknown): number {
  fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return summarize('', samples).medianMs;
}

// one weight: [K, N] = [2560, 7680] stored (Conv1D), random bf16 ~ N(0, 0.02)
const [K, N] = [2560, 7680];
const next = mulberry32(1);
const bits = new Uint16Array(K * N);
{
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < bits.length; i++) {
    f[0] = (next() + next() + next() - 1.5) * 0.04;
    bits[i] = u[0]! >>> 16;
  }
}
const f32 = bf16ToF32(bits);
const nk = transposeF32(f32, K, N);
const tConvert = time(() => bf16ToF32(bits));
const tTranspose = time(() => transposeF32(f32, K, N));
const tQuantFwd = time(() => quantizeInt8(nk, N, K));
const tQuantBwd = time(() => quantizeInt8(f32, K, N));
const target = (along: QuantTarget['along'], n: number, k: number): QuantTarget => ({
  along,
  q: new Uint8Array(n * k),
  scales: new Float32Array((n * k) / 32),
});
const fwd = target('cols', N, K);
const bwd = target('rows', K, N);
const tFast = time(() => quantizeStored({ bf16: bits }, K, N, [fwd]));
const tFastBoth = time(() => quantizeStored({ bf16: bits }, K, N, [fwd, bwd]));
const same =
  Buffer.from(fwd.q).equals(Buffer.from(quantizeInt8(nk, N, K).q)) && Buffer.from(bwd.q).equals(Buffer.from(quantizeInt8(f32, K, N).q));

let modelMd = '';
if (fs.existsSync(path.join(modelDir, 'config.json'))) {
  const model = loadHfFolder(modelDir);
  if (model.config.family !== 'gpt2') throw new Error(`${modelDir}: not a GPT-2 model`);
  const list = gpt2MatmulWeights(model.config);
  const refs = list.map((w) => ({ w, ref: model.weights.get(w.name)! }));
  const valuesCount = refs.reduce((a, r) => a + r.ref.shape[0]! * r.ref.shape[1]!, 0);
  fs.mkdirSync(OUT, { recursive: true });
  // one thread, phase by phase: read, quantize (forward only, as embed binds), write
  const raw = new Uint8Array(Math.max(...refs.map((r) => r.ref.byteLength)));
  const q = new Uint8Array(raw.length / 2);
  const sc = new Float32Array(q.length / 32);
  const phase = { read: [0, 0], quantize: [0, 0], write: [0, 0] };
  const tmp = path.join(OUT, `phases-${process.pid}.bin`);
  const fd = fs.openSync(tmp, 'w');
  const add = (p: number[], t: number, c: NodeJS.CpuUsage) => {
    p[0]! += (performance.now() - t) / 1000;
    p[1]! += cpuS(process.cpuUsage(c));
  };
  for (const { w, ref } of refs) {
    const [r, c] = ref.shape as [number, number];
    const [n, k] = w.layout === 'in-out' ? [c, r] : [r, c];
    let t = performance.now();
    let cu = process.cpuUsage();
    readWeightBytes(ref, raw);
    add(phase.read, t, cu);
    [t, cu] = [performance.now(), process.cpuUsage()];
    const tg: QuantTarget = {
      along: w.layout === 'in-out' ? 'cols' : 'rows',
      q: q.subarray(0, n * k),
      scales: sc.subarray(0, (n * k) / 32),
    };
    quantizeStored({ bf16: new Uint16Array(raw.buffer, 0, r * c) }, r, c, [tg]);
    add(phase.quantize, t, cu);
    [t, cu] = [performance.now(), process.cpuUsage()];
    fs.writeSync(fd, tg.q);
    fs.writeSync(fd, new Uint8Array(tg.scales.buffer, 0, tg.scales.byteLength));
    add(phase.write, t, cu);
  }
  fs.closeSync(fd);
  fs.rmSync(tmp);
  // the whole file as bindWeights writes it
  const bind = (threads: number) => {
    const cacheDir = path.join(OUT, `cache-${process.pid}`);
    fs.rmSync(cacheDir, { recursive: true, force: true });
    const c = process.cpuUsage();
    const t = performance.now();
    bindModelWeights(model, { cacheDir, int8: { weights: list, threads }, onWarning: () => {} });
    const res = { wall: (performance.now() - t) / 1000, cpu: cpuS(process.cpuUsage(c)), load: loadAvg1() };
    fs.rmSync(cacheDir, { recursive: true, force: true });
    return res;
  };
  const workers = defaultInt8Threads(INT8_WORKER_MIN_VALUES);
  const b0 = bind(0);
  const bw = bind(workers);
  const row = (name: string, p: number[]) => `| ${name} | ${fmt(p[0]!)} | ${fmt(p[1]!)} |`;
  modelMd = `
### 2.7B BioMedLM shape: the whole .q8.bin (forward quantizations, ${fmt(valuesCount / 1e9, 2)}B values, bf16 read through the page cache)

| step, one thread | wall s | CPU s |
|---|---|---|
${row('read the bf16 bytes', phase.read)}
${row('quantizeStored', phase.quantize)}
${row('write (page cache; writeFileAtomic does not fsync this file)', phase.write)}

| bindWeights writes the file | wall s | CPU s (all threads) | load after |
|---|---|---|---|
| in the calling thread (\`threads: 0\`) | ${fmt(b0.wall)} | ${fmt(b0.cpu)} | ${b0.load} |
| ${workers} worker threads (the default here) | ${fmt(bw.wall)} | ${fmt(bw.cpu)} | ${bw.load} |
`;
}

const md = `## int8 weights: where the one-time quantization's time goes

Command: \`npx tsx bench/int8-quantize.ts --repeats ${repeats} --write\`
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}. Date: ${date}. 1-min load average ${load0} before.

### one 2560 x 7680 bf16 weight (Conv1D [in, out], BioMedLM's c_attn), median ms of ${repeats}

| step | ms |
|---|---|
| earlier path: bf16 -> float32 (\`bf16ToF32\`) | ${fmt(tConvert)} |
| earlier path: float32 transpose to [out, in] (\`transposeF32\`) | ${fmt(tTranspose)} |
| earlier path: \`quantizeInt8\` of the transpose (forward) | ${fmt(tQuantFwd)} |
| earlier path: \`quantizeInt8\` of the stored matrix (backward, prompt learning) | ${fmt(tQuantBwd)} |
| \`quantizeStored\` from the bf16 bits, forward | ${fmt(tFast)} |
| \`quantizeStored\` from the bf16 bits, forward and backward in one pass | ${fmt(tFastBoth)} |

Same bytes as the earlier path: ${same ? 'yes' : 'NO'}.
${modelMd}`;
console.log(md);
if (values.write) {
  writeResultsSection('int8-quantize', md);
  console.log('wrote bench/RESULTS.md');
}
