// The 2.7B BioMedLM-shaped text encoder (issue #15): cold and warm text embedding of 4 prompts and
// peak RSS, each variant in a fresh child process, and the PyTorch eager peer on the same machine.
//
//   npx tsx bench/big-text-encoder.ts [--model /work/bigmodel/biomedlm-shape] [--threads 2] [--repeats 3]
//                                     [--half cast[,convert]] [--no-torch] [--write]
//
// The model folder is made by scripts/make-biomedlm-shape.ts when missing (5.2 GB of bf16). Cold:
// a fresh ONNX cache, so it includes every one-time step (graph emission, weight binding, session
// creation with the bf16 -> f32 Cast folded and the MatMul weights prepacked) and the first run.
// Warm: the same call again in the same process, the engine keeping the session (as the app's
// engine does between calls). Peak RSS: VmHWM of the child. Needs ~11 GB free.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildTextEncoder, embedText } from '../src/native/models/embed';
import { loadHfFolder } from '../src/native/models/hf-model';
import { Gpt2Tokenizer } from '../src/native/formats/tokenizer';
import { ortVersion } from '../src/native/runtime/ort';
import { PROMPTS } from './big-text-prompts';
import { fmt, lastJson, loadAvg1, machine, summarize, writeResultsSection } from './harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out', 'big-text-encoder');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/bigmodel/biomedlm-shape' },
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    half: { type: 'string', default: 'cast' },
    'no-torch': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const modelDir = path.resolve(values.model);
const threads = Number(values.threads);
const repeats = Number(values.repeats);
const halves = values.half.split(',').map((h) => {
  if (h !== 'cast' && h !== 'convert') throw new Error(`--half: "${h}" is neither cast nor convert`);
  return h;
});
// The child measures one variant: the first of --half.
const half = halves[0]!;

export { PROMPTS };

function status(): { hwmGiB: number; rssGiB: number; anonGiB: number; fileGiB: number } {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 2 ** 20;
  return { hwmGiB: kb('VmHWM'), rssGiB: kb('VmRSS'), anonGiB: kb('RssAnon'), fileGiB: kb('RssFile') };
}

const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** One measured process: cold embed (fresh cache), then warm embeds with the session kept. */
async function child(cacheDir: string) {
  const tok = Gpt2Tokenizer.fromFolder(modelDir);
  const enc = tok.encodeBatch(PROMPTS, { maxLength: 1024 });
  const common = { modelDir, cacheDir, device: 'cpu' as const, threads, halfWeights: half, lastHidden: false } as const;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  buildTextEncoder(common);
  const buildS = (performance.now() - t0) / 1000;
  const cold = await embedText({ ...common, inputIds: enc.inputIds, lengths: enc.lengths });
  const coldS = (performance.now() - t0) / 1000;
  const coldCpuS = cpuS(process.cpuUsage(c0));
  const afterCold = status();
  const samples: number[] = [];
  const cpu: number[] = [];
  let hits = 0;
  for (let i = 0; i < repeats; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    const r = await embedText({ ...common, inputIds: enc.inputIds, lengths: enc.lengths });
    samples.push(performance.now() - t);
    cpu.push(cpuS(process.cpuUsage(c)));
    if (r.sessionCacheHit) hits++;
  }
  const warm = summarize('warm', samples);
  return {
    tokens: enc.inputIds.length / PROMPTS.length,
    buildS,
    coldS,
    coldCpuS,
    converted: cold.artifact.convertedWeights,
    warmMedianS: warm.medianMs / 1000,
    warmQ1S: warm.q1Ms / 1000,
    warmQ3S: warm.q3Ms / 1000,
    warmCpuMedianS: summarize('cpu', cpu).medianMs,
    warmSessionHits: hits,
    afterCold,
    end: status(),
    embedding0: Array.from(cold.embedding.slice(0, 4)),
    embedding: Array.from(cold.embedding),
  };
}

if (values.child) {
  console.log(JSON.stringify(await child(values.child)));
  process.exit(0);
}

fs.mkdirSync(OUT, { recursive: true });
if (!fs.existsSync(path.join(modelDir, 'config.json'))) {
  console.log(`making ${modelDir} (scripts/make-biomedlm-shape.ts)`);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(here, '..', 'scripts', 'make-biomedlm-shape.ts'), '--out', modelDir],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) throw new Error('make-biomedlm-shape failed');
}
const model = loadHfFolder(modelDir);
const f32Bytes = model.numParameters * 4;
const cfg = model.config as { nEmbd: number; nLayer: number; nHead: number; vocabSize: number };
const m = machine();
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');

// ORT: each variant in a fresh child process with a fresh cache (deleted afterwards: ~1 MB of .onnx
// and hard links; with --half convert, the 10 GB float32 copy).
const load0 = loadAvg1();
const ortRuns: { half: string; r: Awaited<ReturnType<typeof child>>; loadAfter: number }[] = [];
for (const h of halves) {
  const cacheDir = path.join(OUT, `cache-${process.pid}`);
  fs.rmSync(cacheDir, { recursive: true, force: true });
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', cacheDir, '--model', modelDir, '--threads', String(threads)];
  args.push('--repeats', String(repeats), '--half', h);
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
  });
  fs.rmSync(cacheDir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`ORT child (--half ${h}) failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const res = lastJson(r.stdout) as Awaited<ReturnType<typeof child>>;
  ortRuns.push({ half: h, r: res, loadAfter: loadAvg1() });
  console.log(JSON.stringify({ half: h, ...res, embedding: undefined }));
}
const ortR = ortRuns[0]!.r;
const loadOrt = ortRuns.map((o) => o.loadAfter).join(', ');
const sameBits = ortRuns.every(
  (o) => o.r.embedding.length === ortR.embedding.length && o.r.embedding.every((v, i) => Object.is(v, ortR.embedding[i])),
);

// PyTorch eager peer, after the ORT child has exited (one big process at a time).
let torchR: Record<string, number | number[] | string> | null = null;
let loadTorch = NaN;
if (!values['no-torch']) {
  const tok = Gpt2Tokenizer.fromFolder(modelDir);
  const enc = tok.encodeBatch(PROMPTS, { maxLength: 1024 });
  const seq = enc.inputIds.length / PROMPTS.length;
  const ids = Array.from({ length: PROMPTS.length }, (_, b) => Array.from(enc.inputIds.slice(b * seq, (b + 1) * seq), Number));
  const idsFile = path.join(OUT, 'ids.json');
  fs.writeFileSync(idsFile, JSON.stringify({ input_ids: ids, lengths: Array.from(enc.lengths, Number) }));
  const need = f32Bytes * 1.1;
  if (os.freemem() < need) console.log(`PyTorch skipped: ${fmt(os.freemem() / 2 ** 30)} GiB free, it needs ~${fmt(need / 2 ** 30)}`);
  else {
    const t = spawnSync(
      '/usr/bin/python3',
      [
        path.join(here, 'big_text_encoder_torch.py'),
        '--model',
        modelDir,
        '--ids',
        idsFile,
        '--threads',
        String(threads),
        '--repeats',
        String(repeats),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    if (t.status !== 0) throw new Error(`PyTorch child failed (${t.status ?? t.signal}):\n${t.stderr}`);
    torchR = lastJson(t.stdout) as Record<string, number | number[] | string>;
    loadTorch = loadAvg1();
    console.log(JSON.stringify(torchR));
  }
}

const gb = (b: number) => fmt(b / 1e9, 2);
const ratio = (gib: number) => fmt((gib * 2 ** 30) / f32Bytes, 2);
const torchErr = torchR
  ? Math.max(...(torchR.embedding0 as number[]).map((v, i) => Math.abs(v - ortR.embedding0[i]!))) /
    Math.max(...ortR.embedding0.map((v) => Math.abs(v)))
  : NaN;
const rows = ortRuns.map(
  ({ half: h, r: o }) =>
    `| ORT (this engine), ${h === 'cast' ? 'bf16 in place + Cast' : 'float32 copy on disk (old path)'} | ${fmt(o.coldS)} (CPU ${fmt(o.coldCpuS)}) | ${fmt(o.warmMedianS, 2)} [${fmt(o.warmQ1S, 2)}, ${fmt(o.warmQ3S, 2)}] (CPU ${fmt(o.warmCpuMedianS, 2)}) | ${fmt(o.end.hwmGiB, 2)} GiB = ${ratio(o.end.hwmGiB)} x | ${o.warmSessionHits}/${repeats} |`,
);
if (torchR)
  rows.push(
    `| PyTorch ${String(torchR.torch)} eager, float32 | ${fmt(Number(torchR.loadS) + Number(torchR.firstForwardS))} (load ${fmt(Number(torchR.loadS))}; CPU ${fmt(Number(torchR.coldCpuS))}) | ${fmt(Number(torchR.warmMedianS), 2)} (CPU ${fmt(Number(torchR.warmCpuMedianS), 2)}) | ${fmt(Number(torchR.peakRssGiB), 2)} GiB = ${ratio(Number(torchR.peakRssGiB))} x | - |`,
  );
const cmd = `npx tsx bench/big-text-encoder.ts --threads ${threads} --repeats ${repeats} --half ${halves.join(',')}${torchR ? '' : ' --no-torch'} --write`;
const md = `## 2.7B BioMedLM-shaped text encoder: cold and warm embedding of 4 prompts

Command: \`${cmd}\` (model: \`npx tsx scripts/make-biomedlm-shape.ts --out ${values.model}\`)
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${ortVersion()}; 1-min load average ${load0} before, ${loadOrt} after the ORT variant(s)${torchR ? `, ${loadTorch} after PyTorch` : ''}.
Date: ${date}. Model: GPT-2 ${cfg.nEmbd} wide, ${cfg.nLayer} layers, ${cfg.nHead} heads, vocabulary ${cfg.vocabSize}, ${fmt(model.numParameters / 1e9, 3)}B parameters, random bf16 weights (${gb(model.byteSize)} GB in ${model.files.length} safetensors shards); float32 weight bytes ${gb(f32Bytes)} GB. 4 prompts of ${ortR.tokens} tokens (right padded), ${threads} intra-op threads.

| | cold s (fresh cache, child process) | warm s, median [IQR] of ${repeats} | peak RSS (VmHWM) / float32 weight bytes | warm calls on the kept session |
|---|---|---|---|---|
${rows.join('\n')}

Cold ORT: graph emission and binding ${fmt(ortR.buildS, 1)} s; the rest is session creation (ORT constant-folds the bf16 -> float32 Cast into float32 initializers and prepacks the MatMul weights) and the first run. RSS after the cold call: ${fmt(ortR.afterCold.anonGiB, 2)} GiB anonymous, ${fmt(ortR.afterCold.fileGiB, 2)} GiB file-backed.
${ortRuns.length > 1 ? `Embeddings of the variants equal bit for bit: ${sameBits ? 'yes' : 'NO'}.` : ''}
${torchR ? `ORT vs PyTorch on the first 4 embedding values: max |diff| / max |value| = ${torchErr.toExponential(1)}.` : ''}
CPU time is user + system of the whole process; wall time on this shared 2-core machine measures the other jobs too when the load average is above 2: read both.
Goals (issue 15): warm <= 5 s, cold <= 60 s including one-time work, peak RSS <= 1.15 x float32 weight bytes.`;
console.log(md);
if (values.write) {
  writeResultsSection('big-text-encoder', md);
  console.log('wrote bench/RESULTS.md');
}
