// The SR content tree and dataset as pure functions (content.ts, codes.ts): which codes a task's
// classes get, what the tree holds for a run with a learned prompt set and an adaptor, the
// Patient/Study attributes copied, and the character set; a custom task's report with non-ASCII
// names is encoded with dcmjs and checked by dciodvfy and dsrdump like the exported ones.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { NaturalDataset } from 'dcmjs';
import { afterAll, describe, expect, it } from 'vitest';
import { taskCodes } from '../../../../src/main/sr/codes';
import { buildContentTree, buildSrDataset, dicomDateTime, type SrReport } from '../../../../src/main/sr/content';
import { encodePart10 } from '../../../../src/main/sr/dicom-file';
import { hashUid, randomUid, UID_ROOT } from '../../../../src/main/dicom/uids';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

const MG = '1.2.840.10008.5.1.4.1.1.1.2';
const images = [
  { sopClassUid: MG, sopInstanceUid: '1.2.3.1.1', seriesUid: '1.2.3.1', laterality: 'R' as const },
  { sopClassUid: MG, sopInstanceUid: '1.2.3.1.2', seriesUid: '1.2.3.1', laterality: 'L' as const },
  { sopClassUid: MG, sopInstanceUid: '1.2.3.2.1', seriesUid: '1.2.3.2', laterality: 'R' as const },
];

function report(over: Partial<SrReport> = {}): SrReport {
  return {
    task: { name: 'Breast density', classes: ['A', 'B', 'C', 'D'].map((name) => ({ name })) },
    exam: [0.1, 0.2, 0.6, 0.1],
    breasts: [
      { laterality: 'L', probabilities: [0.7, 0.1, 0.1, 0.1] },
      { laterality: 'R', probabilities: [0.25, 0.25, 0.25, 0.25] },
    ],
    images,
    model: { name: 'cleft-embed', sha256: 'ab'.repeat(32) },
    promptSet: { name: null, sha256: null },
    adaptor: null,
    run: { id: 12, createdAt: '2026-12-04T15:23:22.123Z', executionProvider: 'cuda:0' },
    deviceUid: hashUid('device'),
    ...over,
  };
}

type Item = NaturalDataset & { ContentSequence?: Item[] };
const concept = (i: Item) => (i.ConceptNameCodeSequence as NaturalDataset[] | undefined)?.[0]?.CodeValue;
const value = (i: Item) => (i.ConceptCodeSequence as NaturalDataset[])[0]!;
const child = (items: Item[], code: string) => items.find((i) => concept(i) === code)!;

describe('SR content tree', () => {
  it('gives each result container the predicted class (first highest on ties), one NUM per class and its images', () => {
    const tree = buildContentTree(report()) as Item[];
    const exam = child(tree, 'EXAM-RESULT').ContentSequence!;
    expect(value(exam[0]!)).toMatchObject({ CodeValue: '129718006', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Heterogeneously dense' });
    expect(exam[0]!.ContentSequence!.map((i) => (i.ReferencedSOPSequence as NaturalDataset[])[0]!.ReferencedSOPInstanceUID)).toEqual(
      images.map((i) => i.sopInstanceUid),
    );
    const nums = exam.filter((i) => i.ValueType === 'NUM');
    expect(nums.map((n) => (n.MeasuredValueSequence as NaturalDataset[])[0]!.NumericValue)).toEqual(['0.1', '0.2', '0.6', '0.1']);
    expect(nums.map((n) => value(n.ContentSequence![0]!).CodeValue)).toEqual(['129716005', '129717001', '129718006', '129719003']);

    const breasts = tree.filter((i) => concept(i) === 'BREAST-RESULT');
    expect(breasts.map((b) => value(b.ContentSequence![0]!).CodeMeaning)).toEqual(['Right breast', 'Left breast']);
    const right = breasts[0]!.ContentSequence!;
    expect(value(right[1]!).CodeValue).toBe('129716005'); // a four-way tie: the first class, as the run recorded it
    expect(right[1]!.ContentSequence!.map((i) => (i.ReferencedSOPSequence as NaturalDataset[])[0]!.ReferencedSOPInstanceUID)).toEqual([
      '1.2.3.1.1',
      '1.2.3.2.1',
    ]);
  });

  it('names the model, the learned prompt set and its hash, the adaptor, the run, its device and time', () => {
    const tree = buildContentTree(
      report({
        promptSet: { name: 'site-a', sha256: 'cd'.repeat(32) },
        adaptor: 'head-1',
        run: { id: 3, createdAt: '2026-01-02T03:04:05.006Z', executionProvider: null },
      }),
    ) as Item[];
    const run = child(tree, 'RUN').ContentSequence!;
    const texts = Object.fromEntries(run.map((i) => [concept(i), i.TextValue ?? i.DateTime]));
    expect(texts).toEqual({
      'RUN-ID': '3',
      'RUN-TIME': '20260102030405.006000',
      TASK: 'Breast density',
      '111001': 'cleft-embed',
      '111003': `sha256:${'ab'.repeat(32)}`,
      'PROMPT-SET': 'site-a',
      'PROMPT-SET-SHA': 'cd'.repeat(32),
      ADAPTOR: 'head-1',
      'EXEC-DEVICE': 'unknown',
    });
    expect(child(tree, 'RESEARCH-USE').TextValue).toMatch(/^RESEARCH RESULT, NOT A DIAGNOSIS\./);
    expect(child(tree, '121012').UID).toBe(hashUid('device'));
  });

  it('uses the BI-RADS assessment codes, and private 99CLEFT codes for a custom task and BI-RADS 6', () => {
    const birads = taskCodes({ name: 'BI-RADS assessment', classes: ['0', '1', '2', '3', '4', '5', '6'].map((name) => ({ name })) });
    expect(birads.concept).toEqual({ value: '111005', scheme: 'DCM', meaning: 'Assessment Category' });
    expect(birads.classes.slice(0, 6).every((c) => c.scheme === 'SCT')).toBe(true);
    expect(birads.classes[6]).toEqual({ value: '6', scheme: '99CLEFT', meaning: '6' });
    const custom = taskCodes({
      name: 'Implant present',
      classes: [
        { name: 'yes', label: 'Implant visible' },
        { name: 'a class name longer than sixteen', label: undefined },
      ],
    });
    expect(custom.concept).toMatchObject({ scheme: '99CLEFT', meaning: 'Implant present' });
    expect(custom.concept.value).toMatch(/^T[0-9A-F]{15}$/);
    expect(custom.classes[0]).toEqual({ value: 'yes', scheme: '99CLEFT', meaning: 'yes: Implant visible' });
    expect(custom.classes[1]!.value).toMatch(/^C[0-9A-F]{15}$/);
    expect(() => buildContentTree(report({ exam: [0.5, 0.5] }))).toThrow(/2 probabilities for the 4 classes of "Breast density"/);
  });

  it('DICOM date-times are UTC without an offset suffix', () => {
    expect(dicomDateTime('2026-12-04T16:23:22.1+01:00')).toBe('20261204152322.100000');
    expect(() => dicomDateTime('yesterday')).toThrow(/not a date-time: yesterday/);
  });

  it('generated UIDs live under the one root, random ones differ, hashed ones repeat', () => {
    const a = randomUid();
    expect(a.startsWith(`${UID_ROOT}.`)).toBe(true);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(randomUid()).not.toBe(a);
    expect(hashUid('x', 1)).toBe(hashUid('x', 1));
  });
});

describe('SR dataset', () => {
  const base = {
    studyUid: '1.2.3',
    seriesUid: randomUid(),
    sopInstanceUid: randomUid(),
    softwareVersion: '9.9.9',
    now: new Date('2026-12-04T15:00:00.250Z'),
  };

  it('copies the source Patient/Study attributes, writes absent Type 2 ones empty, and groups the evidence by series', () => {
    const ds = buildSrDataset({
      ...base,
      report: report(),
      source: {
        PatientName: [{ Alphabetic: 'Doe^Jane' }],
        PatientID: 'P1',
        StudyDate: '20240101',
        StudyDescription: 'MG screening',
        Modality: 'MG',
      },
    });
    expect(ds).toMatchObject({
      PatientName: [{ Alphabetic: 'Doe^Jane' }],
      PatientID: 'P1',
      PatientBirthDate: '',
      PatientSex: '',
      StudyDate: '20240101',
      StudyTime: '',
      ReferringPhysicianName: '',
      StudyID: '',
      AccessionNumber: '',
      StudyDescription: 'MG screening',
      StudyInstanceUID: '1.2.3',
      Modality: 'SR',
      Manufacturer: 'CLEFT Studio',
      SoftwareVersions: '9.9.9',
      ContentDate: '20261204',
      ContentTime: '150000.250000',
      TimezoneOffsetFromUTC: '+0000',
      CompletionFlag: 'COMPLETE',
      VerificationFlag: 'UNVERIFIED',
    });
    expect(ds.SpecificCharacterSet).toBeUndefined(); // all ASCII: the default repertoire
    expect(ds.CurrentRequestedProcedureEvidenceSequence).toEqual([
      {
        StudyInstanceUID: '1.2.3',
        ReferencedSeriesSequence: [
          {
            SeriesInstanceUID: '1.2.3.1',
            ReferencedSOPSequence: [
              { ReferencedSOPClassUID: MG, ReferencedSOPInstanceUID: '1.2.3.1.1' },
              { ReferencedSOPClassUID: MG, ReferencedSOPInstanceUID: '1.2.3.1.2' },
            ],
          },
          { SeriesInstanceUID: '1.2.3.2', ReferencedSOPSequence: [{ ReferencedSOPClassUID: MG, ReferencedSOPInstanceUID: '1.2.3.2.1' }] },
        ],
      },
    ]);
  });

  it('a custom task with non-ASCII names is written as UTF-8 and passes dciodvfy and dsrdump', () => {
    const ds = buildSrDataset({
      ...base,
      report: report({
        task: { name: 'Dichte (Zürich)', classes: [{ name: 'niedrig', label: 'geringe Dichte' }, { name: 'hoch' }] },
        exam: [0.3, 0.7],
        breasts: [{ laterality: 'R', probabilities: [0.9, 0.1] }],
        promptSet: { name: 'prompts-für-zürich', sha256: 'ef'.repeat(32) },
      }),
      source: { PatientName: [{ Alphabetic: 'Müller^Jürgen' }], PatientID: 'P9', PatientSex: 'F', StudyTime: '101010' },
    });
    expect(ds.SpecificCharacterSet).toBe('ISO_IR 192');
    const file = path.join(tmpDir('cleft-sr-pure-'), 'custom.dcm');
    fs.writeFileSync(file, encodePart10(ds, '9.9.9'));
    const v = spawnSync('dciodvfy', ['-new', file], { encoding: 'utf8' });
    const out = `${v.stdout}${v.stderr}`;
    expect(
      out.split('\n').filter((l) => /^Error/.test(l)),
      out,
    ).toEqual([]);
    const tree = execFileSync('dsrdump', ['+Pc', '+Pl', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(tree).toContain('Müller^Jürgen');
    expect(tree).toMatch(/<contains CODE:\(T[0-9A-F]{15},99CLEFT,"Dichte \(Zürich\)"\)=\(hoch,99CLEFT,"hoch"\)>/);
    expect(tree).toContain('<contains NUM:(CLASS-PROB,99CLEFT,"Class probability")="0.7" (1,UCUM,"no units")>');
    expect(tree).toContain('=(niedrig,99CLEFT,"niedrig: geringe Dichte")>');
    expect(tree).toContain('<contains TEXT:(PROMPT-SET,99CLEFT,"Prompt set")="prompts-für-zürich">');
  });
});
