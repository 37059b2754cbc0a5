import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { RunsRepo } from '../../../src/main/db/runs-repo';
import { callApi } from '../../helpers/api';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

let b: Backend;
let source: string;
beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-dicom-');
  for (let n = 1; n <= 4; n++) writeFourViewExam(source, n);
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('runs, predictions, evaluation and CSV', () => {
  it('joins predictions to labels, filters disagreement, evaluates and exports', async () => {
    b = testBackend();
    await b.jobs.waitFor((await callApi(b, 'library.import', { paths: [source] })).id);
    const studies = (await callApi(b, 'library.studies', { sort: { key: 'accession', dir: 'asc' } })).rows;
    const density = (await callApi(b, 'tasks.list', {})).find((t) => t.name === 'Breast density')!;
    // Labels: right breasts A, B, C, D for studies 1..4; left breasts unlabelled.
    const truth = ['A', 'B', 'C', 'D'];
    for (const [i, s] of studies.entries()) {
      await callApi(b, 'labels.set', {
        target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: 'R' },
        className: truth[i]!,
      });
    }
    // A run that gets studies 1-3 right and calls study 4 "C".
    const repo = new RunsRepo(b.db);
    const runId = repo.createRun({
      kind: 'zero-shot',
      name: 'test run',
      jobId: null,
      modelId: null,
      taskId: density.id,
      promptSetId: null,
      record: {
        modelSha256: 'a'.repeat(64),
        adapters: {},
        promptSetSha256: null,
        preprocessSha256: 'b'.repeat(64),
        selectionSha256: null,
        executionProvider: 'cpu',
        appVersion: 'test',
        params: {},
      },
    });
    const probs = [
      [0.7, 0.1, 0.1, 0.1],
      [0.1, 0.6, 0.2, 0.1],
      [0.1, 0.1, 0.7, 0.1],
      [0.1, 0.1, 0.5, 0.3],
    ];
    repo.addPredictions(
      runId,
      truth,
      studies.flatMap((s, i) => [
        { scope: 'breast' as const, studyId: s.id, instanceId: null, laterality: 'R' as const, probabilities: probs[i]! },
        { scope: 'breast' as const, studyId: s.id, instanceId: null, laterality: 'L' as const, probabilities: [0.25, 0.25, 0.25, 0.25] },
      ]),
    );

    const run = await callApi(b, 'runs.get', { id: runId });
    expect(run).toMatchObject({ kind: 'zero-shot', predictions: 8, record: { executionProvider: 'cpu' } });
    const labelled = await callApi(b, 'runs.predictions', { runId, filter: { labelled: true }, sort: { key: 'patientId', dir: 'asc' } });
    expect(labelled.rows.map((p) => [p.patientId, p.label, p.predictedClass])).toEqual([
      ['P1', 'A', 'A'],
      ['P2', 'B', 'B'],
      ['P3', 'C', 'C'],
      ['P4', 'D', 'C'],
    ]);
    const wrong = await callApi(b, 'runs.predictions', { runId, filter: { disagreement: true } });
    expect(wrong.total).toBe(1);
    expect(wrong.rows[0]).toMatchObject({ patientId: 'P4', confidence: 0.5, probabilities: { A: 0.1, B: 0.1, C: 0.5, D: 0.3 } });
    const confident = await callApi(b, 'runs.predictions', { runId, filter: { minConfidence: 0.65 } });
    expect(confident.total).toBe(2);

    const report = await callApi(b, 'runs.evaluate', { runId, scope: 'breast', bootstrapSamples: 100 });
    expect(report.n).toBe(4);
    expect(report.accuracy!.estimate).toBe(0.75);
    // no training made this run's model: every study is held out, the bootstrap resamples the 4 patients
    expect(report.evaluationSet).toMatchObject({ heldOutOnly: true, studies: 4, includesTrainingData: false, lineage: [] });
    expect(report.bootstrap.clusters).toBe(4);
    expect(report.confusion[3]).toEqual([0, 0, 1, 0]);
    expect((await callApi(b, 'runs.get', { id: runId })).metrics).toMatchObject({ breast: { n: 4 } });
    await expect(callApi(b, 'runs.evaluate', { runId, scope: 'exam' })).rejects.toMatchObject({ code: 'conflict' });

    const csv = await callApi(b, 'runs.exportCsv', { runId });
    expect(csv.rows).toBe(8);
    const lines = csv.csv.trim().split('\n');
    expect(lines[0]).toBe(
      'scope,StudyInstanceUID,SeriesInstanceUID,SOPInstanceUID,AccessionNumber,PatientID,laterality,view,p_A,p_B,p_C,p_D,' +
        'predicted,label,split_part,bundle,bundle_sha256,prompt_set,prompt_set_sha256,run_id,app_version',
    );
    expect(lines.filter((l) => l.includes(',P4,') && l.includes(',R,')).length).toBe(1);
    expect(await callApi(b, 'runs.list', { taskId: density.id })).toHaveLength(1);
  });
});
