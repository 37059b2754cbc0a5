// Import: header-indexing rate and peak memory on 10,000 small uncompressed MG files.
//
//   npx tsx bench/import.ts [--files 10000] [--repeats 3] [--write]
//
// Files (made once under bench/out/import-<N>, gitignored): N explicit VR LE MG instances of 4-view
// exams (64x52 12-bit, ~8 KB each) from our phantom writer, 8 exams per folder.
// Rows:
// - headers: readDicomHeader over every file, 16 in flight (as the import job does), in this
//   process; files/s over warm-cache runs.
// - import: `cleft import DIR --data-dir <fresh>` in a child process (the CLI runs the job in a
//   worker thread of that process): wall time, the job's own files/s, and the child's peak RSS
//   (VmHWM from /proc/<pid>/status, polled until it exits; the high-water mark covers the worker
//   thread too). The same for an empty folder gives the baseline a bare CLI process costs.
// - re-import of the unchanged folder into the same library (files skipped by size and mtime).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readDicomHeader } from '../src/main/dicom/header';
import { SOP_CLASS } from '../src/main/dicom/header';
import { writeDicom, type DicomElement } from '../src/main/dicom/phantom/index';
import { TS } from '../src/main/dicom/transfer-syntax';
import { fmt, loadAvg1, machine, summarize, writeResultsSection, type Stats } from './harness';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    repeats: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const N = Number(values.files);
const repeats = Number(values.repeats);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, 'out', `import-${N}`);
const cli = path.join(here, '..', 'bin', 'cleft.mjs');

function makeFiles(): string[] {
  const done = path.join(root, '.complete');
  const views = [
    ['R', 'CC'],
    ['L', 'CC'],
    ['R', 'MLO'],
    ['L', 'MLO'],
  ] as const;
  const rows = 64;
  const columns = 52;
  const px = new Uint16Array(rows * columns).map((_, i) => (i * 37) % 4096);
  const native = new Uint8Array(px.buffer);
  const files: string[] = [];
  const make = !fs.existsSync(done);
  if (make) {
    console.log(`writing ${N} files under ${root}…`);
    fs.rmSync(root, { recursive: true, force: true });
  }
  for (let i = 0; i < N; i++) {
    const exam = Math.floor(i / 4);
    const [side, view] = views[i % 4]!;
    const dir = path.join(root, `batch${String(Math.floor(exam / 8)).padStart(4, '0')}`);
    const file = path.join(dir, `E${exam}_${side}${view}.dcm`);
    files.push(file);
    if (!make) continue;
    if (i % 32 === 0) fs.mkdirSync(dir, { recursive: true });
    const sop = `2.25.1${N}${String(i).padStart(6, '0')}`;
    const ds: DicomElement[] = [
      { tag: 0x00080016, vr: 'UI', value: SOP_CLASS.MgForPresentation },
      { tag: 0x00080018, vr: 'UI', value: sop },
      { tag: 0x00080020, vr: 'DA', value: '20240105' },
      { tag: 0x00080050, vr: 'SH', value: `ACC${exam}` },
      { tag: 0x00080060, vr: 'CS', value: 'MG' },
      { tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' },
      { tag: 0x00080070, vr: 'LO', value: 'Bench' },
      { tag: 0x00100010, vr: 'PN', value: `Bench^${Math.floor(exam / 2)}` },
      { tag: 0x00100020, vr: 'LO', value: `B${Math.floor(exam / 2)}` },
      { tag: 0x00185101, vr: 'CS', value: view },
      { tag: 0x0020000d, vr: 'UI', value: `2.25.2${N}${exam}` },
      { tag: 0x0020000e, vr: 'UI', value: `2.25.3${N}${exam}` },
      { tag: 0x00200013, vr: 'IS', value: String((i % 4) + 1) },
      { tag: 0x00200062, vr: 'CS', value: side },
      { tag: 0x00280002, vr: 'US', value: [1] },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280010, vr: 'US', value: [rows] },
      { tag: 0x00280011, vr: 'US', value: [columns] },
      { tag: 0x00280100, vr: 'US', value: [16] },
      { tag: 0x00280101, vr: 'US', value: [12] },
      { tag: 0x00280102, vr: 'US', value: [11] },
      { tag: 0x00280103, vr: 'US', value: [0] },
      { tag: 0x00281050, vr: 'DS', value: '2000' },
      { tag: 0x00281051, vr: 'DS', value: '3000' },
    ];
    const bytes = writeDicom(ds, {
      transferSyntaxUID: TS.ExplicitLE,
      sopClassUID: SOP_CLASS.MgForPresentation,
      sopInstanceUID: sop,
      pixels: { native, vr: 'OW' },
    });
    fs.writeFileSync(file, bytes);
  }
  if (make) fs.writeFileSync(done, String(N));
  return files;
}

async function readAllHeaders(files: string[]): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const h = await readDicomHeader(files[next++]!);
      if (h.sopInstanceUID) ok++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return ok;
}

interface ChildRun {
  ms: number;
  hwmKiB: number;
  result?: { scanned: number; imported: number; unchanged: number; filesPerSecond: number; seconds: number };
}

/** Runs `cleft import` in a child process, polling its VmHWM until it exits. */
function runImport(dir: string, dataDir: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, 'import', dir, '--data-dir', dataDir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let hwm = 0;
    const poll = (): void => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
      } catch {
        // exited between polls: the last reading stands
      }
    };
    const timer = setInterval(poll, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`cleft import exited ${code}: ${err}`));
      const json = JSON.parse(out.slice(out.indexOf('{'))) as { result?: ChildRun['result'] };
      resolve({ ms, hwmKiB: hwm, result: json.result });
    });
  });
}

const m = machine();
const date = new Date().toISOString().slice(0, 10);
const files = makeFiles();

// Header indexing in this process (warm page cache: one untimed pass first).
await readAllHeaders(files);
const headerMs: number[] = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  const ok = await readAllHeaders(files);
  headerMs.push(performance.now() - t0);
  if (ok !== N) throw new Error(`only ${ok} of ${N} headers had a SOPInstanceUID`);
}
const headers = summarize('headers', headerMs);
const rate = (ms: number): number => N / (ms / 1000);
console.log(`readDicomHeader x ${N}: ${fmt(headers.medianMs, 0)} ms median → ${fmt(rate(headers.medianMs), 0)} files/s`);

// Baseline: the CLI importing an empty folder.
const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-bench-empty-'));
const base = await runImport(empty, fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-bench-lib-')));
console.log(`baseline (empty folder): peak RSS ${fmt(base.hwmKiB / 1024, 0)} MiB, ${fmt(base.ms, 0)} ms`);

const runs: ChildRun[] = [];
const reruns: ChildRun[] = [];
for (let i = 0; i < repeats; i++) {
  const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-bench-lib-'));
  const r = await runImport(root, lib);
  if (r.result?.imported !== N) throw new Error(`imported ${r.result?.imported} of ${N}`);
  runs.push(r);
  console.log(`import of ${N}: ${fmt(r.ms, 0)} ms wall, job ${r.result.filesPerSecond} files/s, peak RSS ${fmt(r.hwmKiB / 1024, 0)} MiB`);
  const again = await runImport(root, lib);
  reruns.push(again);
  console.log(`re-import (unchanged): ${fmt(again.ms, 0)} ms wall, peak RSS ${fmt(again.hwmKiB / 1024, 0)} MiB`);
  fs.rmSync(lib, { recursive: true, force: true });
}
const wall: Stats = summarize(
  'import',
  runs.map((r) => r.ms),
);
const jobRate = summarize(
  'job rate',
  runs.map((r) => r.result!.filesPerSecond),
);
const hwm = summarize(
  'hwm',
  runs.map((r) => r.hwmKiB / 1024),
);
const rewall = summarize(
  'reimport',
  reruns.map((r) => r.ms),
);
const loadAfter = loadAvg1();
console.log(`1-min load average: ${m.loadAvg1} before, ${loadAfter} after`);

if (values.write) {
  writeResultsSection(
    'import',
    `## Import: header indexing and peak memory (${N} small uncompressed MG files)

Command: \`npx tsx bench/import.ts --files ${N} --repeats ${repeats} --write\`
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${m.node}; 1-min load average ${m.loadAvg1} before, ${loadAfter} after.
Date: ${date}. Files: bench/out/import-${N}, explicit VR LE, 64×52 12-bit, ~${fmt(fs.statSync(files[0]!).size / 1024, 1)} KB each, 4 per exam, warm page cache. Median (IQR) of ${repeats} runs.

| measurement | median | IQR | goal |
|---|---|---|---|
| \`readDicomHeader\`, 16 in flight, in-process | ${fmt(rate(headers.medianMs), 0)} files/s | ${fmt(rate(headers.q3Ms), 0)}–${fmt(rate(headers.q1Ms), 0)} files/s | ≥ 1000 files/s |
| \`cleft import\` (child process: scan, headers, SQLite), job rate | ${fmt(jobRate.medianMs, 0)} files/s | ${fmt(jobRate.q1Ms, 0)}–${fmt(jobRate.q3Ms, 0)} files/s | ≥ 1000 files/s |
| \`cleft import\`, whole process wall time | ${fmt(wall.medianMs / 1000, 2)} s | ${fmt(wall.q1Ms / 1000, 2)}–${fmt(wall.q3Ms / 1000, 2)} s | |
| \`cleft import\`, peak RSS of the process (VmHWM, incl. the job's worker thread) | ${fmt(hwm.medianMs, 0)} MiB | ${fmt(hwm.q1Ms, 0)}–${fmt(hwm.q3Ms, 0)} MiB | < 500 MiB |
| same CLI on an empty folder (baseline) | ${fmt(base.hwmKiB / 1024, 0)} MiB, ${fmt(base.ms / 1000, 2)} s | | |
| re-import of the unchanged folder, wall time | ${fmt(rewall.medianMs / 1000, 2)} s | ${fmt(rewall.q1Ms / 1000, 2)}–${fmt(rewall.q3Ms / 1000, 2)} s | |`,
  );
  console.log('bench/RESULTS.md updated (section "import")');
}
