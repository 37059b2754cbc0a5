// `sr.send` ("Send results to archive" on the Predictions page): a classification run's SRs sent to
// a real Orthanc with STOW-RS, one answer per study; the SR is then in the archive (QIDO with
// Modality SR); an archive that is down fails the call with its envelope, an unknown archive is refused.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../../src/main/api/backend';
import type { ClassifyResult } from '../../../../src/common/jobs';
import { callApi } from '../../../helpers/api';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../../helpers/library';
import { startOrthanc, type OrthancServer } from '../../../helpers/orthanc';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

let b: Backend;
let orthanc: OrthancServer;
let runId: number;
const STUDIES = ['1.2.826.0.1.3680043.9.7777.21', '1.2.826.0.1.3680043.9.7777.22'];

beforeAll(async () => {
  requireDump2dcm();
  orthanc = await startOrthanc();
  const source = tmpDir('cleft-sr-send-src-');
  writeFourViewExam(path.join(source, 'a'), 21);
  writeFourViewExam(path.join(source, 'b'), 22);
  b = testBackend(tmpDir('cleft-sr-send-lib-'));
  const density = await taskNamed(b);
  await addTinyBundle(b, 12, { name: 'tiny-send' });
  const studies = await importExams(b, source);
  const job = await b.jobs.waitFor((await callApi(b, 'classify.start', { taskId: density.id, studyIds: studies.map((s) => s.id) })).id);
  expect(job.error).toBeNull();
  runId = (job.result as ClassifyResult).runId;
  await callApi(b, 'archives.add', { name: 'site', url: orthanc.dicomWebUrl });
}, 240_000);
afterAll(async () => {
  b?.close();
  await orthanc?.stop();
  removeTmpDirs();
});

describe('sr.send', () => {
  it('stores one SR per study of the run in the archive, and QIDO finds them as Modality SR', async () => {
    const r = await callApi(b, 'sr.send', { runId, archive: 'site' });
    expect(r.runId).toBe(runId);
    expect(r.archive).toBe('site');
    expect(r.studies.map((s) => [s.studyUid, s.status, s.reason])).toEqual(STUDIES.map((uid) => [uid, 'stored', null]));
    for (const uid of STUDIES) {
      const series = await callApi(b, 'archives.series', { name: 'site', studyUid: uid });
      expect(series.map((s) => s.modality)).toEqual(['SR']);
    }
    const instances = await orthanc.rest<string[]>('/instances');
    expect(instances).toHaveLength(2);
  });

  it('sends only the chosen studies', async () => {
    const r = await callApi(b, 'sr.send', { runId, archive: 'site', studyUids: [STUDIES[1]!] });
    expect(r.studies.map((s) => [s.studyUid, s.status])).toEqual([[STUDIES[1], 'stored']]);
    expect(await orthanc.rest<string[]>('/instances')).toHaveLength(3);
  });

  it('refuses an unknown archive, and an archive that is down fails the call naming it', async () => {
    await expect(callApi(b, 'sr.send', { runId, archive: 'nowhere' })).rejects.toThrow(/nowhere/);
    await callApi(b, 'archives.add', { name: 'down', url: 'http://127.0.0.1:9/dicom-web' });
    await expect(callApi(b, 'sr.send', { runId, archive: 'down' })).rejects.toThrow(/archive "down": POST \/studies/);
  });
});
