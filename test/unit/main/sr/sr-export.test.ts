// `sr.export` / `cleft sr export` end to end: a library with phantom exams (deflated, JPEG 2000)
// and dcmtk-written exams, classified by the same job the UI's Classify runs, exported as one
// Comprehensive SR per study; every file is checked by dicom3tools' dciodvfy (no errors) and
// dcmtk's dsrdump (the tree with the predicted classes and probabilities), and read back with
// dcmjs to compare its references and Patient/Study attributes with the library's images.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import dcmjs, { type NaturalDataset } from 'dcmjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../../src/main/api/backend';
import type { ClassifyResult } from '../../../../src/common/jobs';
import type { Prediction } from '../../../../src/common/runs';
import { RunsRepo } from '../../../../src/main/db/runs-repo';
import { generatePhantoms } from '../../../../src/main/dicom/phantom';
import { UID_ROOT } from '../../../../src/main/dicom/uids';
import { COMPREHENSIVE_SR, RESEARCH_STATEMENT } from '../../../../src/main/sr/content';
import { APP_VERSION } from '../../../../src/main/version';
import { callApi } from '../../../helpers/api';
import { cliOutcome, runCli } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

function readBack(file: string): NaturalDataset {
  const bytes = fs.readFileSync(file);
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
}

/** dciodvfy's report (it writes to stderr) and its Error lines. */
function dciodvfy(file: string): { out: string; errors: string[] } {
  const r = spawnSync('dciodvfy', ['-new', file], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  return { out, errors: out.split('\n').filter((l) => /^Error/.test(l)) };
}

let b: Backend;
let dataDir: string;
let runId: number;
let images: Prediction[];
let studyUids: string[];
let srDir: string;
let exported: { studyUid: string; file: string; sopInstanceUid: string; seriesInstanceUid: string }[];

beforeAll(async () => {
  requireDump2dcm();
  for (const tool of ['dciodvfy', 'dsrdump'])
    if (spawnSync(tool, ['-h'], { stdio: 'ignore' }).error)
      throw new Error(`${tool} is required (Debian packages dicom3tools and dcmtk: apt-get install dicom3tools dcmtk)`);
  const source = tmpDir('cleft-sr-src-');
  writeFourViewExam(path.join(source, 'dcmtk'), 1);
  writeFourViewExam(path.join(source, 'dcmtk'), 2);
  await generatePhantoms({ outDir: path.join(source, 'phantoms'), exams: 2, seed: 5, size: 'small', syntaxes: ['deflated', 'j2k'] });
  // An exam of raw datasets (no preamble, no meta group): the library indexes them, dcmjs cannot read them.
  for (const file of writeFourViewExam(path.join(source, 'raw'), 3)) {
    execFileSync('dcmconv', ['--write-dataset', file, `${file}.raw`]);
    fs.rmSync(file);
  }
  dataDir = tmpDir('cleft-sr-lib-');
  b = testBackend(dataDir);
  const density = await taskNamed(b);
  await addTinyBundle(b, 11, { name: 'tiny-sr' });
  const studies = await importExams(b, source);
  expect(studies).toHaveLength(5);
  const job = await b.jobs.waitFor((await callApi(b, 'classify.start', { taskId: density.id, studyIds: studies.map((s) => s.id) })).id);
  expect(job.error).toBeNull();
  runId = (job.result as ClassifyResult).runId;
  images = (await callApi(b, 'runs.predictions', { runId, filter: { scope: 'image' }, limit: 1000 })).rows;
  expect(images).toHaveLength(20);
  studyUids = [...new Set(images.map((p) => p.studyUid))].sort();
  srDir = path.join(tmpDir('cleft-sr-out-'), 'reports');
  const r = await callApi(b, 'sr.export', { runId, outputDir: srDir });
  expect(r.failed).toEqual([]);
  // The raw exam's report is made from the library's index, and says so.
  expect(r.warnings).toEqual([
    {
      studyUid: '1.2.826.0.1.3680043.9.7777.3',
      message: expect.stringMatching(
        /^cannot read the DICOM header of the source image .*raw.*: .*; the Patient and Study attributes come from the library's index$/,
      ),
    },
  ]);
  exported = r.files;
}, 240_000);
afterAll(() => {
  b?.close();
  removeTmpDirs();
});

describe('DICOM SR export of a classification run', () => {
  it('writes one Comprehensive SR per study that dciodvfy accepts without errors', () => {
    expect(exported.map((f) => f.studyUid).sort()).toEqual(studyUids);
    expect(fs.readdirSync(srDir).sort()).toEqual(exported.map((f) => path.basename(f.file)).sort());
    for (const f of exported) {
      const { out, errors } = dciodvfy(f.file);
      expect(errors, `${f.file}:\n${out}`).toEqual([]);
      expect(out).toMatch(/ComprehensiveSR/);
    }
  });

  it('dsrdump prints the tree: per exam and per breast the predicted class and every class probability', async () => {
    const run = await callApi(b, 'runs.get', { id: runId });
    const model = (await callApi(b, 'models.list', {})).find((m) => m.id === run.modelId)!;
    const preds = (await callApi(b, 'runs.predictions', { runId, limit: 1000 })).rows;
    const sct: Record<string, string> = {
      A: '129716005,SCT,"Almost entirely fat"',
      B: '129717001,SCT,"Scattered fibroglandular densities"',
      C: '129718006,SCT,"Heterogeneously dense"',
      D: '129719003,SCT,"Extremely dense"',
    };
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const f of exported) {
      const tree = execFileSync('dsrdump', ['+Pc', '+Pl', '+Pu', f.file], { encoding: 'utf8' });
      const mine = preds.filter((p) => p.studyUid === f.studyUid);
      // Each result container: its predicted class, then one NUM per class tied to its class code.
      const container = (p: Prediction) => {
        const head =
          p.scope === 'exam'
            ? '<contains CONTAINER:(EXAM-RESULT,99CLEFT,"Exam classification")=SEPARATE>'
            : `<contains CONTAINER:(BREAST-RESULT,99CLEFT,"Breast classification")=SEPARATE>\n\\s*<has concept mod CODE:(363698007,SCT,"Finding Site")=${p.laterality === 'R' ? '(73056007,SCT,"Right breast")' : '(80248007,SCT,"Left breast")'}>`;
        const images = mine
          .filter((im) => im.scope === 'image' && (p.scope === 'exam' || im.laterality === p.laterality))
          .map(() => '\\s*<inferred from IMAGE:=\\(DXm image,"[0-9.]+"\\)>')
          .join('');
        const probs = Object.entries(p.probabilities)
          .map(
            ([cls, v]) =>
              `\\s*${esc(`<contains NUM:(CLASS-PROB,99CLEFT,"Class probability")="${Number(v.toFixed(6))}" (1,UCUM,"no units")>`)}` +
              `\\s*${esc(`<has concept mod CODE:(129715009,SCT,"Breast composition")=(${sct[cls]})>`)}`,
          )
          .join('');
        return new RegExp(
          `${head.startsWith('<contains CONTAINER:(EXAM') ? esc(head) : head.replace(/[()]/g, '\\$&')}\\s*` +
            esc(`<contains CODE:(129715009,SCT,"Breast composition")=(${sct[p.predictedClass]})>`) +
            images +
            probs,
        );
      };
      expect(tree).toContain('Comprehensive SR Document');
      expect(tree).toContain('<CONTAINER:(CLEFT-REPORT,99CLEFT,"CLEFT Studio classification report")=SEPARATE>');
      for (const p of mine.filter((x) => x.scope !== 'image')) expect(tree).toMatch(container(p));
      expect(mine.filter((x) => x.scope === 'breast')).toHaveLength(2);
      expect(tree).toContain(`<contains TEXT:(111001,DCM,"Algorithm Name")="${model.name}">`);
      expect(tree).toContain(`<contains TEXT:(111003,DCM,"Algorithm Version")="sha256:${run.record.modelSha256}">`);
      expect(tree).toContain(`<contains TEXT:(RUN-ID,99CLEFT,"Run ID")="${runId}">`);
      expect(tree).toContain('<contains TEXT:(EXEC-DEVICE,99CLEFT,"Execution device")="cpu">');
      expect(tree).toContain(`<contains TEXT:(PROMPT-SET,99CLEFT,"Prompt set")="the task's prompt templates">`);
      expect(tree).toMatch(/<contains DATETIME:\(RUN-TIME,99CLEFT,"Run time"\)="\d{14}\.\d{6}">/);
      expect(tree).toContain(`<contains TEXT:(RESEARCH-USE,99CLEFT,"Research use statement")="${RESEARCH_STATEMENT}">`);
      for (const im of mine.filter((x) => x.scope === 'image')) expect(tree).toContain(`(DXm image,"${im.sopInstanceUid}")`);
    }
  });

  it('references exactly the classified images and copies the Patient/Study modules; new UIDs under the app root', () => {
    for (const f of exported) {
      const ds = readBack(f.file);
      const mine = images.filter((p) => p.studyUid === f.studyUid);
      expect(ds.SOPClassUID).toBe(COMPREHENSIVE_SR);
      expect(ds.SOPInstanceUID).toBe(f.sopInstanceUid);
      expect(ds.SeriesInstanceUID).toBe(f.seriesInstanceUid);
      for (const uid of [f.sopInstanceUid, f.seriesInstanceUid]) expect(uid.startsWith(`${UID_ROOT}.`)).toBe(true);
      expect(ds.StudyInstanceUID).toBe(f.studyUid);
      expect(ds.PatientID).toBe(mine[0]!.patientId);
      expect(ds.AccessionNumber ?? '').toBe(mine[0]!.accession ?? '');
      expect(ds.Manufacturer).toBe('CLEFT Studio');
      expect(ds.SoftwareVersions).toBe(APP_VERSION);
      const evidence = ds.CurrentRequestedProcedureEvidenceSequence as NaturalDataset[];
      expect(evidence).toHaveLength(1);
      expect(evidence[0]!.StudyInstanceUID).toBe(f.studyUid);
      const refs = (evidence[0]!.ReferencedSeriesSequence as NaturalDataset[]).flatMap((s) =>
        (s.ReferencedSOPSequence as NaturalDataset[]).map((r) => ({
          series: s.SeriesInstanceUID,
          sop: r.ReferencedSOPInstanceUID,
          cls: r.ReferencedSOPClassUID,
        })),
      );
      expect(refs.map((r) => `${r.series}/${r.sop}`).sort()).toEqual(mine.map((p) => `${p.seriesUid}/${p.sopInstanceUid}`).sort());
      for (const r of refs) expect(r.cls).toBe('1.2.840.10008.5.1.4.1.1.1.2');
      const statement = (ds.ContentSequence as NaturalDataset[]).find(
        (c) => (c.ConceptNameCodeSequence as NaturalDataset[] | undefined)?.[0]?.CodeValue === 'RESEARCH-USE',
      );
      expect(statement?.TextValue).toBe(RESEARCH_STATEMENT);
    }
  });

  it('cleft sr export --study writes only those studies; an unknown run or a study outside the run is refused by name', async () => {
    const out = path.join(tmpDir('cleft-sr-cli-'), 'two');
    const asked = [studyUids[2]!, studyUids[0]!];
    const printed = JSON.parse(runCli(['sr', 'export', String(runId), '--study', ...asked, '--output', out, '--json'], { dataDir })) as {
      files: { studyUid: string; file: string }[];
      failed: unknown[];
    };
    expect(printed.failed).toEqual([]);
    expect(printed.files.map((f) => f.studyUid)).toEqual(asked);
    expect(fs.readdirSync(out).sort()).toEqual(printed.files.map((f) => path.basename(f.file)).sort());
    for (const f of printed.files) expect(dciodvfy(f.file).errors).toEqual([]);

    const stderrOf = (args: string[]) => {
      const r = cliOutcome(args, { dataDir });
      if (r.status === 0) throw new Error(`cleft ${args.join(' ')} succeeded`);
      return r.stderr;
    };
    const none = path.join(tmpDir('cleft-sr-cli-'), 'none');
    expect(stderrOf(['sr', 'export', '999', '--output', none])).toContain('cleft: no run with id 999');
    expect(stderrOf(['sr', 'export', String(runId), '--study', '1.2.3.4', '--output', none])).toContain(
      `cleft: run #${runId} has no predictions for study 1.2.3.4 (no study with this StudyInstanceUID in the library)`,
    );
    expect(fs.existsSync(none)).toBe(false);

    // A study of the library that this run did not classify.
    const density = await taskNamed(b);
    const first = (await callApi(b, 'library.studies', { sort: { key: 'accession', dir: 'asc' } })).rows.find(
      (r) => r.studyUid === studyUids[0],
    )!;
    const one = await b.jobs.waitFor((await callApi(b, 'classify.start', { taskId: density.id, studyIds: [first.id] })).id);
    const oneRun = (one.result as ClassifyResult).runId;
    await expect(callApi(b, 'sr.export', { runId: oneRun, studyUids: [studyUids[1]!], outputDir: none })).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining(`run #${oneRun} has no predictions for study ${studyUids[1]} (the run covers 1 study;`),
    });
    expect(fs.existsSync(none)).toBe(false);

    // A run without predictions (an evaluation or training run) has nothing to report.
    const empty = new RunsRepo(b.db).createRun({
      kind: 'evaluation',
      name: 'no predictions',
      jobId: null,
      modelId: null,
      taskId: null,
      promptSetId: null,
      record: {
        modelSha256: null,
        promptSetSha256: null,
        preprocessSha256: null,
        selectionSha256: null,
        executionProvider: null,
        appVersion: 'test',
        adapters: {},
        params: {},
      },
    });
    await expect(callApi(b, 'sr.export', { runId: empty, outputDir: none })).rejects.toMatchObject({
      code: 'conflict',
      message: `run #${empty} (evaluation) has no predictions to report; export a classification run (cleft runs list shows them)`,
    });
    expect(fs.existsSync(none)).toBe(false);
  });
});
