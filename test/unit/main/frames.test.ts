import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { startWebHost, type WebHost } from '../../../src/main/server/web-host';
import { decodeBinary, FrameMeta } from '../../../src/common/binary';
import { callApi } from '../../helpers/api';
import { requireDump2dcm, writeMgInstance } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

let backend: Backend;
let host: WebHost;
let instanceId: number;

beforeAll(async () => {
  requireDump2dcm();
  const src = tmpDir('cleft-dicom-');
  // 40 x 30, values (i * 37) % 4096 as written by the helper.
  writeMgInstance(path.join(src, 'one.dcm'), {
    sopInstanceUid: '1.2.3.1',
    studyUid: '1.2.3',
    seriesUid: '1.2.3.0',
    patientId: 'P',
    rows: 30,
    columns: 40,
  });
  backend = testBackend();
  const job = await callApi(backend, 'library.import', { paths: [src] });
  await backend.jobs.waitFor(job.id);
  const { rows } = await callApi(backend, 'library.studies', {});
  instanceId = (await callApi(backend, 'library.study', { id: rows[0]!.id })).instances[0]!.id;
  host = await startWebHost({ backend, staticDir: null });
});
afterAll(async () => {
  await host.close();
  backend.close();
  removeTmpDirs();
});

async function frame(input: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${host.port}/binary/image.frame`, {
    method: 'POST',
    headers: { 'X-Cleft-Token': host.token, 'Content-Type': 'application/json' },
    body: JSON.stringify(input),
  });
}

describe('decoded frames for the viewer', () => {
  it('returns the stored values with their display metadata, decoded in a worker', async () => {
    const res = await frame({ instanceId });
    expect(res.status).toBe(200);
    const { meta, data } = decodeBinary(await res.arrayBuffer());
    const m = FrameMeta.parse(meta);
    expect(m).toMatchObject({
      rows: 30,
      columns: 40,
      samples: 1,
      photometric: 'MONOCHROME2',
      laterality: 'R',
      viewPosition: 'CC',
      forProcessing: false,
    });
    expect(m.dataType).toBe('uint16');
    const px = new Uint16Array(data);
    expect(px.length).toBe(1200);
    for (let i = 0; i < px.length; i++) if (px[i] !== (i * 37) % 4096) throw new Error(`pixel ${i}: ${px[i]}`);
    expect(m.minValue).toBe(Math.min(...px));
    expect(m.maxValue).toBe(Math.max(...px));
  });

  it('bins down to maxSize by block means', async () => {
    const { meta } = decodeBinary(await (await frame({ instanceId, maxSize: 64 })).arrayBuffer());
    expect(meta).toMatchObject({ rows: 30, columns: 40 }); // already small enough: untouched
    const binned = decodeBinary(await backend.frames.frame({ instanceId, frame: 0, maxSize: 20 }));
    expect(binned.meta).toMatchObject({ rows: 15, columns: 20, fullRows: 30, fullColumns: 40 });
    const px = new Uint16Array(binned.data);
    const v = (y: number, x: number) => ((y * 40 + x) * 37) % 4096;
    expect(px[0]).toBe(Math.round((v(0, 0) + v(0, 1) + v(1, 0) + v(1, 1)) / 4));
  });

  it('answers bad requests with typed errors', async () => {
    const missing = await frame({ instanceId: 9999 });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ ok: false, error: { code: 'not_found', message: 'no image with id 9999' } });
    const bad = await frame({ instanceId: 'x' });
    expect(bad.status).toBe(400);
    const outOfRange = await frame({ instanceId, frame: 3 });
    expect(outOfRange.status).toBe(400);
    expect(((await outOfRange.json()) as { error: { message: string } }).error.message).toMatch(/frame 3 requested, the image has 1/);
    const noToken = await fetch(`http://127.0.0.1:${host.port}/binary/image.frame`, { method: 'POST', body: '{}' });
    expect(noToken.status).toBe(401);
  });
});
