// Retrieve from a DICOMweb archive: N four-view exams of 3328x4096 12-bit JPEG 2000 from a local
// Orthanc (test/helpers/orthanc.ts) into a fresh library, against `curl` of the same WADO-RS URLs.
//
//   npx tsx bench/pacs-retrieve.ts [--exams 20] [--repeats 3] [--write]
//
// Files (made once under bench/out/pacs-retrieve, gitignored): one full-size JPEG 2000 lossless
// phantom exam from our generator; the other exams are copies with new Study/Series/SOP UIDs and
// patient (dcmtk `dcmodify -i`, which updates the meta header's SOP UID too; no re-encoding), so every exam has the same bytes to move.
// Rows (each repeat: a fresh library, the page cache warm from the previous repeat):
// - cleft: the retrieve core (archive/retrieve.ts, what the pacs-retrieve job runs in its worker):
//   metadata per study, then WADO-RS per instance, 2 in flight, streamed to disk, fsync, rename and
//   indexed (header read + pixel-data checks) like a folder import.
// - curl: the same instance URLs with the same Accept header, bodies to /dev/null, one process,
//   `--parallel --parallel-max 2` (the same 2 in flight) and sequential: the transfer ceiling
//   (no parsing, no writing, no fsync, no indexing).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { retrieveStudies, WADO_ACCEPT } from '../src/main/archive/retrieve';
import { DB_FILE_NAME, openDatabase } from '../src/main/db/database';
import { generateExam } from '../src/main/dicom/phantom/index';
import { readDicomHeader } from '../src/main/dicom/header';
import { startOrthanc } from '../test/helpers/orthanc';
import { fmt, loadAvg1, machine, summarize, writeResultsSection, type Stats } from './harness';

const { values } = parseArgs({
  options: {
    exams: { type: 'string', default: '20' },
    repeats: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const EXAMS = Number(values.exams);
const repeats = Number(values.repeats);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, 'out', 'pacs-retrieve');

interface ExamFiles {
  study: string;
  files: string[];
}

async function makeExams(): Promise<ExamFiles[]> {
  const base = path.join(root, 'base');
  if (!fs.existsSync(path.join(base, '.complete'))) {
    console.log('making the full-size JPEG 2000 phantom exam (takes a minute)…');
    fs.rmSync(base, { recursive: true, force: true });
    const exam = await generateExam(0, { outDir: base, seed: 11, size: 'full', syntaxes: ['j2k'] });
    exam.images.forEach((img, i) => fs.renameSync(img.file, path.join(base, `V${i + 1}.dcm`)));
    fs.writeFileSync(path.join(base, '.complete'), '');
  }
  const out: ExamFiles[] = [];
  for (let e = 1; e <= EXAMS; e++) {
    const study = `2.25.9${String(e).padStart(4, '0')}`;
    const dir = path.join(root, `exam${e}`);
    const files = [1, 2, 3, 4].map((v) => path.join(dir, `V${v}.dcm`));
    if (!fs.existsSync(path.join(dir, '.complete'))) {
      fs.mkdirSync(dir, { recursive: true });
      files.forEach((f, i) => {
        fs.copyFileSync(path.join(base, `V${i + 1}.dcm`), f);
        const sop = `${study}.1.${i + 1}`;
        const m = [`(0020,000d)=${study}`, `(0020,000e)=${study}.1`, `(0008,0018)=${sop}`, `(0010,0020)=BENCH${e}`];
        const r = spawnSync('dcmodify', ['-nb', '-ie', ...m.flatMap((x) => ['-i', x]), f], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`dcmodify failed on ${f}: ${r.stderr}`);
      });
      fs.writeFileSync(path.join(dir, '.complete'), '');
    }
    out.push({ study, files });
  }
  return out;
}

const exams = await makeExams();
const allFiles = exams.flatMap((e) => e.files);
const totalBytes = allFiles.reduce((n, f) => n + fs.statSync(f).size, 0);
const syntax = (await readDicomHeader(allFiles[0]!)).transferSyntaxUID;
console.log(`${allFiles.length} instances, ${fmt(totalBytes / 1e6)} MB on disk, transfer syntax ${syntax}`);

const orthanc = await startOrthanc();
const load = { before: loadAvg1(), after: 0 };
const cleftRuns: number[] = [];
const curl2Runs: number[] = [];
const curl1Runs: number[] = [];
let movedBytes = 0;
try {
  console.log('uploading to Orthanc…');
  await orthanc.upload(allFiles);
  const urls = exams.flatMap((e) =>
    e.files.map((_, i) => `${orthanc.dicomWebUrl}/studies/${e.study}/series/${e.study}.1/instances/${e.study}.1.${i + 1}`),
  );
  const curl = (parallel: boolean): number => {
    const args = [
      '-s',
      '--no-progress-meter',
      '-f',
      '-H',
      `Accept: ${WADO_ACCEPT}`,
      ...(parallel ? ['--parallel', '--parallel-max', '2'] : []),
    ];
    for (const u of urls) args.push(u, '-o', '/dev/null');
    const t = performance.now();
    execFileSync('curl', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    return performance.now() - t;
  };
  curl(true); // warm Orthanc's cache and the page cache once
  for (let r = 0; r < repeats; r++) {
    const dataDir = fs.mkdtempSync(path.join(root, 'lib-'));
    const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    try {
      const t = performance.now();
      const s = await retrieveStudies({
        db,
        dataDir,
        conn: { name: 'bench', url: orthanc.dicomWebUrl, auth: { kind: 'none' } },
        studies: exams.map((e) => e.study),
        onlyForPresentation: false,
        jobId: null,
        signal: new AbortController().signal,
      });
      cleftRuns.push(performance.now() - t);
      const failed = s.studies.filter((x) => x.status !== 'done');
      if (failed.length || s.fetched !== allFiles.length) throw new Error(`retrieve incomplete: ${failed.map((x) => x.error).join('; ')}`);
      movedBytes = s.bytes;
      // Checked once: the stored files are the uploaded ones, byte for byte.
      if (r === 0) {
        const stored = path.join(dataDir, 'archive', 'bench', exams[0]!.study, `${exams[0]!.study}.1`, `${exams[0]!.study}.1.1.dcm`);
        if (!fs.readFileSync(stored).equals(fs.readFileSync(exams[0]!.files[0]!)))
          throw new Error('a stored file differs from the uploaded one');
      }
    } finally {
      db.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    curl2Runs.push(curl(true));
    curl1Runs.push(curl(false));
    console.log(
      `repeat ${r + 1}: cleft ${fmt(cleftRuns.at(-1)! / 1000, 2)} s, curl x2 ${fmt(curl2Runs.at(-1)! / 1000, 2)} s, curl x1 ${fmt(curl1Runs.at(-1)! / 1000, 2)} s`,
    );
  }
} finally {
  load.after = loadAvg1();
  await orthanc.stop();
  fs.rmSync(orthanc.storageDir, { recursive: true, force: true });
}

const n = allFiles.length;
const row = (label: string, st: Stats): string => {
  const s = st.medianMs / 1000;
  return `| ${label} | ${fmt(s, 2)} (${fmt(st.q1Ms / 1000, 2)}-${fmt(st.q3Ms / 1000, 2)}) | ${fmt(n / s)} | ${fmt(movedBytes / 1e6 / s)} |`;
};
const cleftStats = summarize('cleft', cleftRuns);
const curl2 = summarize('curl x2', curl2Runs);
const curl1 = summarize('curl x1', curl1Runs);
const m = machine();
const table = [
  '| variant | seconds, median (IQR) | images/s | MB/s |',
  '|---|---|---|---|',
  row('cleft retrieve (2 in flight, to disk + fsync + index)', cleftStats),
  row('curl, same URLs, --parallel-max 2, to /dev/null', curl2),
  row('curl, same URLs, sequential, to /dev/null', curl1),
].join('\n');
const md = `## Retrieve from a DICOMweb archive (${EXAMS} four-view exams, 3328×4096 12-bit JPEG 2000, local Orthanc)

Command: \`npx tsx bench/pacs-retrieve.ts --exams ${EXAMS} --repeats ${repeats} --write\`
Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.platform}, Node ${process.versions.node}; Orthanc ${orthancVersion()} with its DICOMweb plugin on 127.0.0.1 (same machine); 1-min load average ${fmt(load.before, 2)} before, ${fmt(load.after, 2)} after.
Date: ${new Date().toISOString().slice(0, 10)}. ${n} instances, ${fmt(movedBytes / 1e6)} MB moved per run (JPEG 2000 lossless, ${syntax}, kept as stored); ${repeats} runs per row, interleaved.

${table}

cleft at ${fmt((curl2.medianMs / cleftStats.medianMs) * 100, 0)}% of curl's rate with the same 2 requests in flight. Orthanc and the client share the machine's 2 cores, so both rates include the server's work (reading its storage, writing multipart).
`;
console.log(`\n${md}`);
if (values.write) writeResultsSection('pacs-retrieve', md);

function orthancVersion(): string {
  const r = spawnSync('/usr/sbin/Orthanc', ['--version'], { encoding: 'utf8' });
  return /([0-9]+\.[0-9]+\.[0-9]+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}
