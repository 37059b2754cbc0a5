// A label spreadsheet at scale (issue #12): a 100,000-row CSV imported against 25,000 studies, goal
// at most 10 s and 500 MB.
//
//   npx tsx bench/labels-import.ts [--studies 25000] [--rows 100000] [--repeats 3] [--write]
//
// The library: N studies of 4 images (RCC, LCC, RMLO, LMLO), one patient each, written straight
// into a real library database (schema by openDatabase). The CSV mixes what sites send: per study
// a left and a right breast row keyed by acc_anon with side and tissueden 1-4 (--map 1=A,...), an
// exam row keyed by StudyInstanceUID and an image row keyed by SOPInstanceUID; rows / 4 studies.
// Each repeat imports into a fresh copy of the library: `cleft labels import` in a child process
// (wall time including the CLI's start, peak RSS = VmHWM polled from /proc), and the same import
// in this process (labels.importApply's code: read, parse, plan, one transaction).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/main/db/database';
import { TasksRepo } from '../src/main/db/tasks-repo';
import { importLabels } from '../src/main/labels/label-import';
import { fmt, loadAvg1, machine, summarize, writeResultsSection } from './harness';

const { values } = parseArgs({
  options: {
    studies: { type: 'string', default: '25000' },
    rows: { type: 'string', default: '100000' },
    repeats: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const N = Number(values.studies);
const ROWS = Number(values.rows);
const repeats = Number(values.repeats);
const cli = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'cleft.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-bench-labels-'));
const MAP = '1=A,2=B,3=C,4=D';

// The library, built once and copied per repeat.
const t0 = performance.now();
const base = path.join(dir, 'base');
fs.mkdirSync(base);
{
  const db = openDatabase(path.join(base, 'library.sqlite'));
  new TasksRepo(db).seedBuiltins();
  const VIEWS = [
    ['R', 'CC'],
    ['L', 'CC'],
    ['R', 'MLO'],
    ['L', 'MLO'],
  ] as const;
  db.transaction(() => {
    const patient = db.prepare(`INSERT INTO patients (patient_id) VALUES (?)`);
    const study = db.prepare(`INSERT INTO studies (patient_ref, study_uid, study_date, accession) VALUES (?, ?, '20240101', ?)`);
    const series = db.prepare(`INSERT INTO series (study_ref, series_uid, modality) VALUES (?, ?, 'MG')`);
    const instance = db.prepare(
      `INSERT INTO instances (series_ref, sop_instance_uid, file_path, file_size, file_mtime_ms, modality, laterality, view_position)
       VALUES (?, ?, ?, 1, 0, 'MG', ?, ?)`,
    );
    for (let i = 0; i < N; i++) {
      const p = Number(patient.run(`P${i}`).lastInsertRowid);
      const s = Number(study.run(p, `1.2.840.99.${i}`, `ACC${i}`).lastInsertRowid);
      const se = Number(series.run(s, `1.2.840.99.${i}.1`).lastInsertRowid);
      VIEWS.forEach(([lat, view], k) => instance.run(se, `1.2.840.99.${i}.1.${k}`, `/data/${i}/${k}.dcm`, lat, view));
    }
  })();
  db.close();
}
const csvFile = path.join(dir, 'labels.csv');
{
  const lines = ['StudyInstanceUID,acc_anon,SOPInstanceUID,side,tissueden'];
  for (let r = 0; r < ROWS; r++) {
    const i = Math.floor(r / 4) % N;
    const d = String(1 + ((i + r) % 4));
    const kind = r % 4;
    if (kind === 0) lines.push(`,ACC${i},,L,${d}`);
    else if (kind === 1) lines.push(`,ACC${i},,R,${d}`);
    else if (kind === 2) lines.push(`1.2.840.99.${i},,,,${d}`);
    else lines.push(`,,1.2.840.99.${i}.1.${i % 4},,${d}`);
  }
  fs.writeFileSync(csvFile, lines.join('\n') + '\n');
}
const buildSeconds = (performance.now() - t0) / 1000;
const csvMB = fs.statSync(csvFile).size / 2 ** 20;

function freshCopy(k: string): string {
  const d = path.join(dir, k);
  fs.mkdirSync(d);
  fs.copyFileSync(path.join(base, 'library.sqlite'), path.join(d, 'library.sqlite'));
  return d;
}

interface ChildRun {
  ms: number;
  hwmKiB: number;
  /** user + system CPU time of the process (all threads), from /proc/<pid>/stat; ticks of 10 ms. */
  cpuMs: number;
  applied: number;
}
/** `cleft labels import` in a child process, polling its VmHWM until it exits. */
function runCli(dataDir: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(
      process.execPath,
      [cli, 'labels', 'import', csvFile, '--task', 'Breast density', '--map', MAP, '--json', '--data-dir', dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let hwm = 0;
    let cpuMs = 0;
    const poll = (): void => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
        // fields after the command name: state is 3rd, utime 14th, stime 15th
        const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuMs = Math.max(cpuMs, (Number(f[11]) + Number(f[12])) * 10);
      } catch {
        // exited between polls: the last reading stands
      }
    };
    const timer = setInterval(poll, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      const ms = performance.now() - t;
      if (code !== 0) return reject(new Error(`cleft labels import exited ${code}: ${err}${out.slice(0, 2000)}`));
      const report = JSON.parse(out) as { counts: { applied: number; refused: number } };
      if (report.counts.refused !== 0) return reject(new Error(`refused rows: ${out.slice(0, 2000)}`));
      resolve({ ms, hwmKiB: hwm, cpuMs, applied: report.counts.applied });
    });
  });
}

const load0 = machine().loadAvg1;
const cliRuns: ChildRun[] = [];
const inProcessMs: number[] = [];
const inProcessCpuMs: number[] = [];
let applied = 0;
for (let k = 0; k < repeats; k++) {
  const run = await runCli(freshCopy(`cli-${k}`));
  cliRuns.push(run);
  console.log(
    `cleft labels import: ${fmt(run.ms / 1000, 2)} s (CPU ${fmt(run.cpuMs / 1000, 2)} s), peak RSS ${fmt(run.hwmKiB / 1024, 0)} MiB, ${run.applied} labels`,
  );

  const d = freshCopy(`in-${k}`);
  const db = openDatabase(path.join(d, 'library.sqlite'));
  const task = new TasksRepo(db).list().find((t) => t.name === 'Breast density')!;
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await importLabels(
    db,
    { path: csvFile },
    { taskId: task.id, map: MAP, onConflict: 'keep', skipBadRows: false },
    { dryRun: false, defaultAnnotator: 'bench' },
  );
  inProcessMs.push(performance.now() - t);
  const cpu = process.cpuUsage(cpu0);
  inProcessCpuMs.push((cpu.user + cpu.system) / 1000);
  applied = r.counts.applied;
  // check the result before trusting the time: every row applied, the labels are in the database
  const n = (db.prepare(`SELECT count(*) n FROM labels WHERE task_ref = ?`).get(task.id) as { n: number }).n;
  if (r.counts.refused !== 0 || n !== applied || applied < Math.min(ROWS, 4 * N) * 0.99)
    throw new Error(`unexpected result: ${JSON.stringify(r.counts)}, ${n} labels`);
  db.close();
  console.log(`in process: ${fmt(inProcessMs.at(-1)! / 1000, 2)} s (CPU ${fmt(inProcessCpuMs.at(-1)! / 1000, 2)} s), ${applied} labels`);
}
const load1 = loadAvg1();
const wall = summarize(
  'cli',
  cliRuns.map((r) => r.ms),
);
const rss = summarize(
  'rss',
  cliRuns.map((r) => r.hwmKiB / 1024),
);
const inProc = summarize('in', inProcessMs);
const cliCpu = summarize(
  'cli cpu',
  cliRuns.map((r) => r.cpuMs),
);
const inCpu = summarize('in cpu', inProcessCpuMs);
console.log(
  `median: CLI ${fmt(wall.medianMs / 1000, 2)} s, peak RSS ${fmt(rss.medianMs, 0)} MiB (max ${fmt(Math.max(...rss.samplesMs), 0)}); ` +
    `in process ${fmt(inProc.medianMs / 1000, 2)} s; setup ${buildSeconds.toFixed(1)} s; load ${load0} -> ${load1}`,
);

if (values.write) {
  const m = machine();
  writeResultsSection(
    'labels-import',
    `## Label import: ${ROWS.toLocaleString('en-US')} CSV rows against ${N.toLocaleString('en-US')} studies\n\n` +
      `Command: \`npx tsx bench/labels-import.ts --studies ${N} --rows ${ROWS} --repeats ${repeats} --write\`\n\n` +
      `Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${m.cpu}, ${m.logicalCores} logical cores, Node ${process.versions.node}. ` +
      `Load (1 min) ${load0} → ${load1}.\n` +
      `Library: ${N} studies × 4 images in a real library database; CSV ${fmt(csvMB, 1)} MB: per study two breast rows (acc_anon + side), ` +
      `an exam row (StudyInstanceUID) and an image row (SOPInstanceUID), tissueden 1-4 with \`--map ${MAP}\`; ` +
      `${applied.toLocaleString('en-US')} labels written per import, each into a fresh copy of the library. Median (IQR) of ${repeats} imports.\n\n` +
      `| measure | median | IQR | max | goal |\n| --- | --- | --- | --- | --- |\n` +
      `| \`cleft labels import\` wall time (child process, incl. CLI start) | ${fmt(wall.medianMs / 1000, 2)} s | ${fmt(wall.q1Ms / 1000, 2)}–${fmt(wall.q3Ms / 1000, 2)} s | ${fmt(Math.max(...wall.samplesMs) / 1000, 2)} s | ≤ 10 s |\n` +
      `| its peak RSS (VmHWM) | ${fmt(rss.medianMs, 0)} MiB | ${fmt(rss.q1Ms, 0)}–${fmt(rss.q3Ms, 0)} MiB | ${fmt(Math.max(...rss.samplesMs), 0)} MiB | ≤ 500 MB |\n` +
      `| its CPU time (user + system, all threads) | ${fmt(cliCpu.medianMs / 1000, 2)} s | ${fmt(cliCpu.q1Ms / 1000, 2)}–${fmt(cliCpu.q3Ms / 1000, 2)} s | ${fmt(Math.max(...cliCpu.samplesMs) / 1000, 2)} s | |\n` +
      `| the import in process (read, parse, plan, one transaction) | ${fmt(inProc.medianMs / 1000, 2)} s | ${fmt(inProc.q1Ms / 1000, 2)}–${fmt(inProc.q3Ms / 1000, 2)} s | ${fmt(Math.max(...inProc.samplesMs) / 1000, 2)} s | |\n` +
      `| its CPU time | ${fmt(inCpu.medianMs / 1000, 2)} s | ${fmt(inCpu.q1Ms / 1000, 2)}–${fmt(inCpu.q3Ms / 1000, 2)} s | ${fmt(Math.max(...inCpu.samplesMs) / 1000, 2)} s | |\n\n` +
      `On a shared machine the wall times measure the other work as much as this code when the load average is above 2; ` +
      `the CPU times are what the import costs (its wall time on an idle machine is about the CPU time).`,
  );
}
fs.rmSync(dir, { recursive: true, force: true });
