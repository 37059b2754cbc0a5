// Library queries at scale: the studies table's first page, its prediction filters, the whole
// selection's ids (Classify all) and a study's position (the viewer's next/previous), on a
// synthetic library written straight into SQLite.
//
//   npx tsx bench/library-queries.ts [--studies 12000] [--repeats 15] [--write]
//
// Rows: N studies of 4 instances (RCC, LCC, RMLO, LMLO), one patient each; a zero-shot run over
// every study (exam, 2 breasts, 4 images = 7 predictions each), a second run over 10% of them
// (their latest), breast labels on 30% of the studies. The database lives in a temp folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { StudyFilter } from '../src/common/contract';
import { openDatabase } from '../src/main/db/database';
import { LibraryRepo, type StudySort } from '../src/main/db/library-repo';
import { RunsRepo, type NewPrediction } from '../src/main/db/runs-repo';
import { TasksRepo } from '../src/main/db/tasks-repo';
import { fmt, loadAvg1, machine, measure, writeResultsSection, type Stats } from './harness';

const { values } = parseArgs({
  options: {
    studies: { type: 'string', default: '12000' },
    repeats: { type: 'string', default: '15' },
    write: { type: 'boolean', default: false },
  },
});
const N = Number(values.studies);
const repeats = Number(values.repeats);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-bench-library-'));
const db = openDatabase(path.join(dir, 'library.sqlite'));
const tasks = new TasksRepo(db);
tasks.seedBuiltins();
const density = tasks.list().find((t) => t.name === 'Breast density')!;
const classes = density.classes.map((c) => c.name);

const t0 = performance.now();
const VIEWS = [
  ['R', 'CC'],
  ['L', 'CC'],
  ['R', 'MLO'],
  ['L', 'MLO'],
] as const;
const instanceIds: number[][] = [];
db.transaction(() => {
  const patient = db.prepare(`INSERT INTO patients (patient_id, patient_name) VALUES (?, ?)`);
  const study = db.prepare(`INSERT INTO studies (patient_ref, study_uid, study_date, accession) VALUES (?, ?, ?, ?)`);
  const series = db.prepare(`INSERT INTO series (study_ref, series_uid, modality) VALUES (?, ?, 'MG')`);
  const instance = db.prepare(
    `INSERT INTO instances (series_ref, sop_instance_uid, file_path, file_size, file_mtime_ms, modality, laterality, view_position,
       presentation_intent) VALUES (?, ?, ?, 1, 0, 'MG', ?, ?, 'FOR PRESENTATION')`,
  );
  for (let i = 0; i < N; i++) {
    const p = Number(patient.run(`P${i}`, `DOE^JANE${i}`).lastInsertRowid);
    const date = `20${String(10 + (i % 15)).padStart(2, '0')}${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}`;
    const s = Number(study.run(p, `1.2.3.${i}`, date, `A${i}`).lastInsertRowid);
    const se = Number(series.run(s, `1.2.3.${i}.1`).lastInsertRowid);
    instanceIds.push(
      VIEWS.map(([lat, view], k) => Number(instance.run(se, `1.2.3.${i}.1.${k}`, `/data/${i}/${k}.dcm`, lat, view).lastInsertRowid)),
    );
  }
})();
const runs = new RunsRepo(db);
const record = {
  modelSha256: 'a'.repeat(64),
  adapters: {},
  promptSetSha256: null,
  preprocessSha256: 'b'.repeat(64),
  selectionSha256: null,
  executionProvider: 'cpu',
  appVersion: 'bench',
  params: {},
};
const rng = (k: number): number => ((k * 2654435761) % 1000) / 1000;
const probs = (k: number): number[] => {
  const raw = classes.map((_, c) => 0.2 + rng(k * 7 + c));
  const sum = raw.reduce((a, v) => a + v, 0);
  return raw.map((v) => v / sum);
};
function predictionsFor(studyId: number, idx: number, salt: number): NewPrediction[] {
  const out: NewPrediction[] = instanceIds[idx]!.map((id, k) => ({
    scope: 'image',
    studyId,
    instanceId: id,
    laterality: VIEWS[k]![0],
    probabilities: probs(idx * 13 + k + salt),
  }));
  out.push({ scope: 'breast', studyId, instanceId: null, laterality: 'R', probabilities: probs(idx * 5 + salt) });
  out.push({ scope: 'breast', studyId, instanceId: null, laterality: 'L', probabilities: probs(idx * 3 + salt) });
  out.push({ scope: 'exam', studyId, instanceId: null, laterality: null, probabilities: probs(idx + salt) });
  return out;
}
const studyIds = (db.prepare(`SELECT id FROM studies ORDER BY id`).all() as { id: number }[]).map((r) => r.id);
const newRun = (name: string): number =>
  runs.createRun({ kind: 'zero-shot', name, jobId: null, modelId: null, taskId: density.id, promptSetId: null, record });
const all = newRun('all');
runs.addPredictions(
  all,
  classes,
  studyIds.flatMap((id, i) => predictionsFor(id, i, 0)),
);
const some = newRun('tenth');
runs.addPredictions(
  some,
  classes,
  studyIds.filter((_, i) => i % 10 === 0).flatMap((id, i) => predictionsFor(id, i * 10, 1)),
);
db.transaction(() => {
  const label = db.prepare(
    `INSERT INTO labels (task_ref, scope, study_ref, laterality, class_name, annotator) VALUES (?, 'breast', ?, ?, ?, 'bench')`,
  );
  studyIds.forEach((id, i) => {
    if (i % 10 < 3) {
      label.run(density.id, id, 'R', classes[i % 4]!);
      label.run(density.id, id, 'L', classes[(i + 1) % 4]!);
    }
  });
})();
const buildSeconds = (performance.now() - t0) / 1000;

const repo = new LibraryRepo(db);
const sort: StudySort = { key: 'studyDate', dir: 'desc' };
const withTask = (f: StudyFilter): StudyFilter => ({ taskId: density.id, ...f });
// A sanity check before timing: the filters answer, and differently.
const disagree = repo.studies(withTask({ disagreement: true }), sort, 200, 0).total;
const classB = repo.studies(withTask({ predictedClass: 'B' }), sort, 200, 0).total;
if (!(disagree > 0 && disagree < N && classB > 0 && classB < N)) throw new Error(`unexpected totals ${disagree} ${classB}`);
const middle = studyIds[Math.floor(N / 2)]!;

const cases: [string, () => unknown][] = [
  ['first page (200), no filter, with prediction status', () => repo.studies(withTask({}), sort, 200, 0)],
  ['first page, predicted class B', () => repo.studies(withTask({ predictedClass: 'B' }), sort, 200, 0)],
  ['first page, disagreement with labels', () => repo.studies(withTask({ disagreement: true }), sort, 200, 0)],
  ['first page, not yet classified', () => repo.studies(withTask({ predicted: false }), sort, 200, 0)],
  ['page at offset N/2, text search "P1"', () => repo.studies(withTask({ text: 'P1' }), sort, 200, Math.floor(N / 4))],
  ['all ids, disagreement (Classify all selection)', () => repo.studyIds(withTask({ disagreement: true }), sort)],
  ['all ids, no filter', () => repo.studyIds({}, sort)],
  ['position of a middle study (viewer next/previous)', () => repo.position(middle, withTask({}), sort)],
  ['position, disagreement filter', () => repo.position(middle, withTask({ disagreement: true }), sort)],
];
const load0 = machine().loadAvg1;
const results: Stats[] = [];
for (const [name, fn] of cases) {
  const s = await measure(name, fn, { warmup: 2, repeats });
  results.push(s);
  console.log(`${name.padEnd(52)} median ${fmt(s.medianMs)} ms  IQR ${fmt(s.q1Ms)}-${fmt(s.q3Ms)} ms`);
}
const load1 = loadAvg1();
console.log(`built ${N} studies in ${buildSeconds.toFixed(1)} s; disagreement ${disagree}, class B ${classB}; load ${load0} -> ${load1}`);

if (values.write) {
  const m = machine();
  const rows = results.map((s) => `| ${s.name} | ${fmt(s.medianMs)} ms | ${fmt(s.q1Ms)}–${fmt(s.q3Ms)} ms |`).join('\n');
  writeResultsSection(
    'library-queries',
    `## Library queries at ${N.toLocaleString('en-US')} studies\n\nCommand: \`npx tsx bench/library-queries.ts --studies ${N} --repeats ${repeats} --write\`\n\n` +
      `Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${m.cpu}, ${m.logicalCores} logical cores. Load (1 min) ${load0} → ${load1}. ` +
      `Synthetic library in SQLite: ${N} studies × 4 images, a zero-shot run over all (7 predictions each), a second over 10%, breast labels on 30%; ` +
      `${disagree} studies disagree, ${classB} predicted B. Median (IQR) of ${repeats} runs, in process (no HTTP).\n\n` +
      `| query (LibraryRepo) | median | IQR |\n| --- | --- | --- |\n${rows}`,
  );
}
db.close();
fs.rmSync(dir, { recursive: true, force: true });
