// The Orthanc harness itself: a real server starts on a free port, takes a 4-view exam, answers
// QIDO-RS for it, refuses anonymous requests when users are configured, and stops by PID.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFourViewExam, requireDump2dcm } from '../../../helpers/dcmtk';
import { startOrthanc, type OrthancServer } from '../../../helpers/orthanc';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

const servers: OrthancServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  removeTmpDirs();
});

describe('Orthanc test harness', () => {
  it('serves an uploaded exam over QIDO-RS and stops by PID', async () => {
    requireDump2dcm();
    const orthanc = await startOrthanc();
    servers.push(orthanc);
    const files = writeFourViewExam(path.join(tmpDir(), 'exam'), 1);
    expect(await orthanc.upload(files)).toHaveLength(4);
    const res = await fetch(`${orthanc.dicomWebUrl}/studies?PatientID=P1`, { headers: { Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    const studies = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
    expect(studies).toHaveLength(1);
    expect(studies[0]!['0020000D']!.Value).toEqual(['1.2.826.0.1.3680043.9.7777.1']);
    await orthanc.stop();
    await expect(fetch(`${orthanc.url}/system`)).rejects.toThrow();
  });

  it('requires basic auth when users are configured', async () => {
    const orthanc = await startOrthanc({ users: { alice: 's3cret' } });
    servers.push(orthanc);
    expect((await fetch(`${orthanc.url}/system`)).status).toBe(401);
    const ok = await fetch(`${orthanc.url}/system`, {
      headers: { Authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` },
    });
    expect(ok.status).toBe(200);
  });
});
