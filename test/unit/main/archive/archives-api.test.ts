// The Archive page's contract methods (archives.*) through dispatch, as the renderer calls them: the
// secret goes in with archives.add and never comes back out, not even in an error.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../../src/main/api/backend';
import { dispatch } from '../../../../src/main/api/dispatch';
import { archiveSecretFile } from '../../../../src/main/archive/secret-store';
import { callApi } from '../../../helpers/api';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { testBackend } from '../../../helpers/library';
import { startOrthanc, type OrthancServer } from '../../../helpers/orthanc';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

const SECRET = 'api-secret-Vw93-unique';
let orthanc: OrthancServer;
let b: Backend;
let dataDir: string;

beforeAll(async () => {
  requireDump2dcm();
  orthanc = await startOrthanc({ users: { bob: SECRET } });
  await orthanc.upload(writeFourViewExam(tmpDir(), 5));
  dataDir = tmpDir();
  b = testBackend(dataDir);
}, 120_000);
afterAll(async () => {
  b?.close();
  await orthanc?.stop();
  removeTmpDirs();
});

describe('archives.* contract methods', () => {
  it('add, list, test, query, series and remove, with the secret write-only', async () => {
    const outputs: unknown[] = [];
    const added = await callApi(b, 'archives.add', { name: 'site', url: orthanc.dicomWebUrl, auth: 'basic', user: 'bob', secret: SECRET });
    outputs.push(added);
    expect(added).toMatchObject({ name: 'site', url: orthanc.dicomWebUrl, auth: 'basic', user: 'bob', hasSecret: true });
    expect(fs.statSync(archiveSecretFile(dataDir, 'site')).mode & 0o777).toBe(0o600);

    const list = await callApi(b, 'archives.list', {});
    outputs.push(list);
    expect(list.map((a) => a.name)).toEqual(['site']);

    const test = await callApi(b, 'archives.test', { name: 'site' });
    outputs.push(test);
    expect(test).toMatchObject({ reachable: true, problem: null });
    expect([test.services.qido.answers, test.services.wado.answers, test.services.stow.answers]).toEqual([true, true, true]);

    const studies = await callApi(b, 'archives.query', { name: 'site', query: { patientId: 'P5' } });
    outputs.push(studies);
    expect(studies.map((s) => [s.studyUid, s.accession, s.images, s.inLibrary])).toEqual([
      ['1.2.826.0.1.3680043.9.7777.5', 'A5', 4, false],
    ]);

    const series = await callApi(b, 'archives.series', { name: 'site', studyUid: '1.2.826.0.1.3680043.9.7777.5' });
    outputs.push(series);
    expect(series).toEqual([
      { seriesUid: '1.2.826.0.1.3680043.9.7777.5.1', modality: 'MG', seriesNumber: null, description: null, images: 4 },
    ]);

    expect(JSON.stringify(outputs)).not.toContain(SECRET);
    expect(await callApi(b, 'archives.remove', { name: 'site' })).toEqual({ removed: 'site' });
    expect(await callApi(b, 'archives.list', {})).toEqual([]);
  });

  it('answers bad input and unknown archives with typed errors that never repeat the secret', async () => {
    const bad = await dispatch(b.handlers, 'archives.add', { name: 'x', url: 'http://u:p@host/dicom-web', auth: 'bearer', secret: SECRET });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(JSON.stringify(bad)).toContain('must not carry a user or password');
    const long = await dispatch(b.handlers, 'archives.add', { name: 'y', url: 'http://host/x', auth: 'bearer', secret: `${SECRET}\n` });
    expect(long).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    for (const r of [bad, long]) expect(JSON.stringify(r)).not.toContain(SECRET);
    const unknown = await dispatch(b.handlers, 'archives.query', { name: 'nowhere', query: {} });
    expect(unknown).toEqual({
      ok: false,
      error: { code: 'not_found', message: 'no archive named "nowhere" (none saved yet: cleft pacs add NAME --url URL)' },
    });
    const wrong = await callApi(b, 'archives.add', { name: 'wrong', url: orthanc.dicomWebUrl, auth: 'basic', user: 'bob', secret: 'nope' });
    expect(wrong.hasSecret).toBe(true);
    const refused = await dispatch(b.handlers, 'archives.query', { name: 'wrong', query: { patientId: 'P5' } });
    expect(refused).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(JSON.stringify(refused)).toContain('credentials refused (HTTP 401)');
    expect(path.basename(archiveSecretFile(dataDir, 'wrong'))).toBe('archive-wrong.json');
  });
});
