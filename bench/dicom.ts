// DICOM decode and model-path timings on a full-size synthetic mammogram (3328x4096, 12-bit), per
// transfer syntax, with GDCM's native command line measured in the same run as the peer.
//
//   npx tsx bench/dicom.ts [--repeats 7] [--warmup 2] [--syntaxes le,rle,...] [--no-workers] [--write]
//
// Files (made once under bench/out/dicom, gitignored): one 4-view phantom exam per syntax from our
// generator (explicit LE, RLE, JPEG-LS, JPEG 2000, HTJ2K), and JPEG lossless SV1 made from the
// explicit LE exam by dcmtk (`dcmcjpeg +e1`: process 14, selection value 1).
// Rows: full decode (openDicomFile + decodeFrame: stored values, Int32), file -> pixel_values with
// the `cleft` preset (fused path, and the elementwise reference path for comparison), and
// `gdcmconv --raw` (whole process: start, decode, write) timed by hyperfine when installed, else by
// repeated spawnSync. JPEG 2000: the reduced-resolution model path against full decode + resize
// (time and mean absolute difference). Viewer: the 4 views of an exam decoded by the app's own
// frame-worker threads (1 and 2 threads).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { decodeFrame, openDicomFile } from '../src/main/dicom/decode';
import { generateExam, type PhantomSyntax } from '../src/main/dicom/phantom/index';
import { prepareImage } from '../src/main/dicom/pipeline/prepare';
import { PRESETS } from '../src/main/dicom/pipeline/spec';
import { startThread } from '../src/main/workers/thread-launcher';
import { fmt, loadAvg1, machine, measure, summarize, writeResultsSection, type Stats } from './harness';

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '2' },
    syntaxes: { type: 'string', default: 'le,rle,jpeg-ls,sv1,j2k,htj2k' },
    workers: { type: 'boolean', default: true },
    write: { type: 'boolean', default: false },
  },
  allowNegative: true,
});
const opts = { repeats: Number(values.repeats), warmup: Number(values.warmup) };
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, 'out', 'dicom');
const VIEWS = ['RCC', 'LCC', 'RMLO', 'LMLO'] as const;

interface Syntax {
  key: string;
  label: string;
  phantom?: PhantomSyntax;
}
const SYNTAXES: Syntax[] = [
  { key: 'le', label: 'Explicit VR LE (native)', phantom: 'explicit-le' },
  { key: 'rle', label: 'RLE Lossless', phantom: 'rle' },
  { key: 'jpeg-ls', label: 'JPEG-LS lossless', phantom: 'jpeg-ls' },
  { key: 'sv1', label: 'JPEG lossless SV1 (dcmcjpeg +e1)' },
  { key: 'j2k', label: 'JPEG 2000 lossless', phantom: 'j2k' },
  { key: 'htj2k', label: 'HTJ2K lossless', phantom: 'htj2k' },
];
const chosen = SYNTAXES.filter((s) => values.syntaxes.split(',').includes(s.key));

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** The 4 view files of the bench exam for a syntax, made on first use. */
async function examFiles(s: Syntax): Promise<string[]> {
  const dir = path.join(root, s.key);
  const files = VIEWS.map((v) => path.join(dir, `${v}.dcm`));
  if (files.every((f) => fs.existsSync(f))) return files;
  fs.mkdirSync(dir, { recursive: true });
  if (s.phantom) {
    console.log(`making the ${s.label} phantom exam (full size, takes a minute)…`);
    const tmp = path.join(dir, 'tmp');
    const exam = await generateExam(0, { outDir: tmp, seed: 7, size: 'full', syntaxes: [s.phantom] });
    for (const img of exam.images) fs.renameSync(img.file, path.join(dir, `${img.view}.dcm`));
    fs.rmSync(tmp, { recursive: true, force: true });
  } else {
    if (!has('dcmcjpeg')) throw new Error('dcmcjpeg (Debian dcmtk) is needed for the SV1 files');
    const le = await examFiles(SYNTAXES[0]!);
    le.forEach((src, i) => {
      const r = spawnSync('dcmcjpeg', ['+e1', src, files[i]!], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`dcmcjpeg failed: ${r.stderr}`);
    });
  }
  return files;
}

/**
 * One timed `gdcmconv --raw` (whole process): wall ms, and CPU ms (user + system) when hyperfine
 * is installed (it reports them; without it, NaN).
 */
function gdcmOnce(file: string, out: string): { wall: number; cpu: number } {
  if (has('hyperfine')) {
    const json = path.join(os.tmpdir(), `cleft-bench-hf-${process.pid}.json`);
    const r = spawnSync('hyperfine', ['-N', '--runs', '1', '--export-json', json, '--style', 'none', `gdcmconv --raw ${file} ${out}`], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`hyperfine failed: ${r.stderr}`);
    const res = (JSON.parse(fs.readFileSync(json, 'utf8')) as { results: { times: number[]; user: number; system: number }[] }).results[0]!;
    fs.rmSync(json, { force: true });
    return { wall: res.times[0]! * 1000, cpu: (res.user + res.system) * 1000 };
  }
  const t0 = performance.now();
  if (spawnSync('gdcmconv', ['--raw', file, out]).status !== 0) throw new Error(`gdcmconv failed on ${file}`);
  return { wall: performance.now() - t0, cpu: NaN };
}

interface Versus {
  ours: Stats;
  oursCpu: Stats;
  gdcm: Stats | undefined;
  gdcmCpu: Stats | undefined;
}

/**
 * Our full decode and GDCM's, alternating run by run: on a shared machine the load drifts, and
 * interleaving exposes both to the same drift. CPU time (user + system) is recorded as well: it is
 * much less sensitive to other work than wall time. Ours is in-process (no process start).
 */
async function decodeVsGdcm(file: string): Promise<Versus> {
  const out = path.join(os.tmpdir(), `cleft-bench-raw-${process.pid}.dcm`);
  // This GDCM may not decode the syntax at all (HTJ2K needs GDCM >= 3.2 with OpenJPH).
  const peer = has('gdcmconv') && spawnSync('gdcmconv', ['--raw', file, out]).status === 0;
  const ours: number[] = [];
  const oursCpu: number[] = [];
  const theirs: number[] = [];
  const theirsCpu: number[] = [];
  try {
    for (let i = 0; i < opts.warmup + opts.repeats; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await decodeFrame(await openDicomFile(file), 0);
      const t = performance.now() - t0;
      const c = process.cpuUsage(c0);
      const g = peer ? gdcmOnce(file, out) : { wall: 0, cpu: 0 };
      if (i < opts.warmup) continue;
      ours.push(t);
      oursCpu.push((c.user + c.system) / 1000);
      theirs.push(g.wall);
      theirsCpu.push(g.cpu);
    }
  } finally {
    fs.rmSync(out, { force: true });
  }
  return {
    ours: summarize('decode', ours),
    oursCpu: summarize('decode cpu', oursCpu),
    gdcm: peer ? summarize('gdcmconv --raw', theirs) : undefined,
    gdcmCpu: peer && theirsCpu.every((v) => Number.isFinite(v)) ? summarize('gdcmconv --raw cpu', theirsCpu) : undefined,
  };
}

const range = (s: Stats): string => `${fmt(s.medianMs, 0)} (${fmt(s.q1Ms, 0)}–${fmt(s.q3Ms, 0)})`;

interface Row {
  s: Syntax;
  decode: Stats;
  prepare: Stats;
  reference: Stats;
  gdcm: Stats | undefined;
  vs: Versus;
  level: number;
}

const m = machine();
const date = new Date().toISOString().slice(0, 10);
const rows: Row[] = [];
for (const s of chosen) {
  const [file] = await examFiles(s);
  const vs = await decodeVsGdcm(file!);
  const { ours: decode, gdcm: g } = vs;
  let level = 0;
  const prepare = await measure(
    `${s.key} prepare`,
    async () => {
      level = (await prepareImage(await openDicomFile(file!), PRESETS.cleft)).decodeReduction;
    },
    opts,
  );
  const reference = await measure(
    `${s.key} reference`,
    async () => prepareImage(await openDicomFile(file!), PRESETS.cleft, 0, { reference: true }),
    { warmup: 1, repeats: Math.max(3, Math.ceil(opts.repeats / 2)) },
  );
  rows.push({ s, decode, prepare, reference, gdcm: g, vs, level });
  console.log(
    `${s.label.padEnd(34)} decode ${range(decode)} ms  file→pixel_values ${range(prepare)} ms (level ${level})  ` +
      `reference pipeline ${range(reference)} ms  gdcmconv --raw ${g ? range(g) : 'n/a'} ms  ` +
      `CPU ms ours ${fmt(vs.oursCpu.medianMs, 0)} / GDCM ${vs.gdcmCpu ? fmt(vs.gdcmCpu.medianMs, 0) : 'n/a'}`,
  );
}

// JPEG 2000: reduced-resolution model path against full decode + resize.
interface J2kRow {
  preset: 'cleft' | 'voi';
  reduced: Stats;
  full: Stats;
  mad: number;
  maxAbs: number;
  level: number;
}
const j2kRows: J2kRow[] = [];
if (chosen.some((s) => s.key === 'j2k')) {
  const [file] = await examFiles(SYNTAXES.find((s) => s.key === 'j2k')!);
  for (const preset of ['cleft', 'voi'] as const) {
    const spec = PRESETS[preset];
    const img = await openDicomFile(file!);
    const a = await prepareImage(img, spec);
    const b = await prepareImage(img, { ...spec, decodeReduction: 'none' });
    let sum = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.pixelValues.length; i++) {
      const d = Math.abs(a.pixelValues[i]! - b.pixelValues[i]!);
      sum += d;
      maxAbs = Math.max(maxAbs, d);
    }
    const reduced = await measure(`j2k ${preset} reduced`, async () => prepareImage(await openDicomFile(file!), spec), opts);
    const full = await measure(
      `j2k ${preset} full`,
      async () => prepareImage(await openDicomFile(file!), { ...spec, decodeReduction: 'none' }),
      { warmup: 1, repeats: Math.max(3, Math.ceil(opts.repeats / 2)) },
    );
    j2kRows.push({ preset, reduced, full, mad: sum / a.pixelValues.length, maxAbs, level: a.decodeReduction });
    console.log(
      `JPEG 2000 ${preset}: reduced (level ${a.decodeReduction}) ${range(reduced)} ms, full decode + resize ${range(full)} ms, ` +
        `mean |diff| ${(sum / a.pixelValues.length).toFixed(4)} (max ${maxAbs.toFixed(3)}) in normalised units (range 2)`,
    );
  }
}

// Viewer: an exam's 4 views through the app's frame-worker threads.
interface ExamRow {
  s: Syntax;
  threads: number;
  stats: Stats;
}
const examRows: ExamRow[] = [];
if (values.workers) {
  const entry = path.join(here, '..', 'src', 'main', 'imaging', 'frame-worker.ts');
  for (const s of chosen.filter((x) => ['jpeg-ls', 'sv1', 'j2k'].includes(x.key))) {
    const files = await examFiles(s);
    for (const threads of [1, 2]) {
      const workers: Worker[] = Array.from({ length: threads }, () => startThread(entry));
      let id = 0;
      const pending = new Map<number, (err?: string) => void>();
      for (const w of workers) {
        w.on('message', (msg: { id: number; error?: string }) => {
          pending.get(msg.id)?.(msg.error);
          pending.delete(msg.id);
        });
      }
      const decodeOn = (w: Worker, file: string): Promise<void> =>
        new Promise((resolve, reject) => {
          const k = ++id;
          pending.set(k, (err) => (err ? reject(new Error(err)) : resolve()));
          w.postMessage({ id: k, job: { instanceId: 0, file, frame: 0 } });
        });
      const exam = async (): Promise<void> => {
        // Each thread takes the next view when it is free (what a pool does).
        let next = 0;
        await Promise.all(
          workers.map(async (w) => {
            while (next < files.length) await decodeOn(w, files[next++]!);
          }),
        );
      };
      const stats = await measure(`${s.key} exam ${threads}`, exam, { warmup: 1, repeats: Math.max(3, Math.ceil(opts.repeats / 2)) });
      await Promise.all(workers.map((w) => w.terminate()));
      examRows.push({ s, threads, stats });
      console.log(
        `${s.label}: 4-view exam on ${threads} frame-worker thread(s) ${range(stats)} ms (${fmt(stats.medianMs / 4, 0)} ms per view)`,
      );
    }
  }
}

const loadAfter = loadAvg1();
console.log(`1-min load average: ${m.loadAvg1} before, ${loadAfter} after`);

if (values.write) {
  const ratio = (r: Row): string => (r.gdcm ? `${(r.decode.medianMs / r.gdcm.medianMs).toFixed(2)}×` : 'n/a');
  const cpu = (r: Row): string =>
    r.vs.gdcmCpu
      ? `${fmt(r.vs.oursCpu.medianMs, 0)} / ${fmt(r.vs.gdcmCpu.medianMs, 0)} = ${(r.vs.oursCpu.medianMs / r.vs.gdcmCpu.medianMs).toFixed(2)}×`
      : `${fmt(r.vs.oursCpu.medianMs, 0)} / n/a`;
  const main = rows.map(
    (r) =>
      `| ${r.s.label} | ${range(r.decode)} | ${r.gdcm ? range(r.gdcm) : 'cannot decode it'} | ${ratio(r)} | ${cpu(r)} | ${range(r.prepare)}${r.level ? ` (J2K level ${r.level})` : ''} | ${range(r.reference)} |`,
  );
  const j2k = j2kRows.map(
    (r) => `| ${r.preset} | ${r.level} | ${range(r.reduced)} | ${range(r.full)} | ${r.mad.toFixed(4)} | ${r.maxAbs.toFixed(3)} |`,
  );
  const exams = examRows.map((r) => `| ${r.s.label} | ${r.threads} | ${range(r.stats)} | ${fmt(r.stats.medianMs / 4, 0)} |`);
  writeResultsSection(
    'dicom',
    `## DICOM decode and model path (3328×4096 12-bit phantom)

Command: \`npx tsx bench/dicom.ts --repeats ${opts.repeats} --warmup ${opts.warmup} --write\`
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}; 1-min load average ${m.loadAvg1} before, ${loadAfter} after (this is a shared machine: GDCM is measured in the same run so the ratio is fair).
Date: ${date}. Milliseconds, median (IQR) of ${opts.repeats} timed runs after ${opts.warmup} warmup (reference pipeline and full-size J2K rows: fewer). Our full decode and \`gdcmconv --raw\` (${has('hyperfine') ? 'timed by hyperfine -N' : 'timed around spawnSync'}) alternate run by run, so both see the same load.
Files: bench/out/dicom/<syntax>/RCC.dcm, one 4-view phantom exam per syntax (ours; SV1 by \`dcmcjpeg +e1\`).

| syntax | full decode (openDicomFile + decodeFrame) | \`gdcmconv --raw\` whole process | ours / GDCM (wall) | CPU ms, ours / GDCM (user + system) | file → pixel_values (\`cleft\`) | same, elementwise reference pipeline |
|---|---|---|---|---|---|---|
${main.join('\n')}

JPEG 2000, model path at reduced resolution against full decode + resize (mean and max absolute difference of \`pixel_values\`, normalised units, range 2):

| preset | level | reduced decode → pixel_values | full decode + resize → pixel_values | mean abs diff | max abs diff |
|---|---|---|---|---|---|
${j2k.join('\n')}

Viewer: the 4 views of one exam decoded by the app's frame-worker threads (\`src/main/imaging/frame-worker.ts\`: decode, min/max, compact to 16-bit), wall time for the exam:

| syntax | threads | exam ms | ms per view |
|---|---|---|---|
${exams.join('\n')}`,
  );
  console.log('bench/RESULTS.md updated (section "dicom")');
}
