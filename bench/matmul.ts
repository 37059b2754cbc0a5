// MatMul ceiling: a plain float32 n x n x n MatMul (default 2048^3) in ORT on the CPU. This is the
// throughput every model bench is compared against ("effective GFLOP/s as a share of the ceiling").
//
//   npx tsx bench/matmul.ts [--n 2048] [--threads 2] [--repeats 15] [--warmup 3] [--write]
//
// Variants: in-process session.run with `threads` and with 1 thread (scaling), and the same run
// through an EngineWorker (what the app does), to show what messaging costs at this size.
import { parseArgs } from 'node:util';
import { EngineWorker } from '../src/native/runtime/engine-worker';
import { ort, ortVersion } from '../src/native/runtime/ort';
import { toOrtSessionOptions } from '../src/native/runtime/session-options';
import { f32 } from '../src/native/runtime/tensors';
import { matmulModel } from '../test/unit/native/runtime/helpers/onnx-min';
import { fmt, loadAvg1, machine, measure, writeResultsSection, type Stats } from './harness';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '2048' },
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const threads = Number(values.threads);
const opts = { repeats: Number(values.repeats), warmup: Number(values.warmup) };
const gflop = (2 * n ** 3) / 1e9;

function random(len: number, seed: number): Float32Array {
  // xorshift: reproducible inputs without a dependency; values in [-1, 1).
  const out = new Float32Array(len);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

const model = matmulModel(n, n, n);
const a = random(n * n, 1);
const b = random(n * n, 2);

/** A timing of a wrong result is worthless: check two output elements against a JS dot product. */
function checkCorners(c: Float32Array): void {
  for (const [i, j] of [
    [0, 0],
    [n - 1, n - 1],
  ] as const) {
    let ref = 0;
    for (let p = 0; p < n; p++) ref += a[i * n + p]! * b[p * n + j]!;
    const got = c[i * n + j]!;
    if (Math.abs(got - ref) > 1e-3 * Math.max(1, Math.abs(ref))) {
      throw new Error(`MatMul result wrong at (${i}, ${j}): ${got} vs ${ref}`);
    }
  }
}

async function inProcess(t: number): Promise<Stats> {
  const session = await ort.InferenceSession.create(model, toOrtSessionOptions({ intraOpNumThreads: t }));
  const feeds = { a: new ort.Tensor('float32', a, [n, n]), b: new ort.Tensor('float32', b, [n, n]) };
  checkCorners((await session.run(feeds)).c!.data as Float32Array);
  const stats = await measure(`ORT CPU, in-process, ${t} thread${t > 1 ? 's' : ''}`, () => session.run(feeds), opts);
  await session.release();
  return stats;
}

async function viaWorker(t: number): Promise<Stats> {
  const engine = EngineWorker.start({ name: 'bench-matmul' });
  try {
    const info = await engine.createSession({ bytes: model }, { intraOpNumThreads: t });
    // Inputs are copied into the worker on every run (the default), the output is transferred back.
    return await measure(
      `ORT CPU, EngineWorker, ${t} thread${t > 1 ? 's' : ''} (inputs copied each run)`,
      () => engine.run(info.key, { a: f32(a, [n, n]), b: f32(b, [n, n]) }),
      opts,
    );
  } finally {
    await engine.close();
  }
}

const m = machine();
const date = new Date().toISOString().slice(0, 10);
console.log(
  `MatMul ${n}^3 float32 (${fmt(gflop, 2)} GFLOP per run), ORT ${ortVersion()}, ${m.cpu}, ${m.logicalCores} cores, load ${m.loadAvg1}`,
);

const results: Stats[] = [];
for (const run of [() => inProcess(threads), () => inProcess(1), () => viaWorker(threads)]) {
  const s = await run();
  results.push(s);
  console.log(
    `${s.name.padEnd(62)} median ${fmt(s.medianMs)} ms (IQR ${fmt(s.q1Ms)}-${fmt(s.q3Ms)}, n=${s.n})  ` +
      `${fmt(gflop / (s.medianMs / 1e3))} GFLOP/s`,
  );
}

const loadAfter = loadAvg1();
console.log(`1-min load average: ${m.loadAvg1} before, ${loadAfter} after (2 busy threads ≈ 2 on this machine)`);

if (values.write) {
  const rows = results.map(
    (s) =>
      `| ${s.name} | ${fmt(s.medianMs)} | ${fmt(s.q1Ms)}-${fmt(s.q3Ms)} | ${fmt(gflop / (s.medianMs / 1e3))} | ${fmt(gflop / (s.q3Ms / 1e3))}-${fmt(gflop / (s.q1Ms / 1e3))} |`,
  );
  writeResultsSection(
    'matmul',
    `## MatMul ceiling (${n}^3 float32, ORT CPU)

Command: \`npx tsx bench/matmul.ts --n ${n} --threads ${threads} --repeats ${opts.repeats} --warmup ${opts.warmup} --write\`
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}; 1-min load average ${m.loadAvg1} before, ${loadAfter} after (the bench itself keeps ~2 threads busy; more means other work competed).
Date: ${date}. ${opts.warmup} warmup + ${opts.repeats} timed runs per row; ${fmt(gflop, 2)} GFLOP per run (2·n³).

| variant | median ms | IQR ms | GFLOP/s at median | GFLOP/s over IQR |
|---|---|---|---|---|
${rows.join('\n')}`,
  );
  console.log('bench/RESULTS.md updated (section "matmul")');
}
