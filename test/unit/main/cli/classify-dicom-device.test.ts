// `cleft classify --dicom FILE --json` (files anywhere, nothing recorded in a library) states where
// it ran like every run record: the provider, why, and per encoder graph placement and determinism.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceRunRecord } from '../../../../src/common/device';
import { runCli } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { addTinyBundle, testBackend } from '../../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

describe('cleft classify --dicom --json', () => {
  it('prints the device record with the text and image encoders', { timeout: 300_000 }, async () => {
    requireDump2dcm();
    const source = tmpDir('cleft-dicom-');
    writeFourViewExam(source, 1);
    const dataDir = path.join(tmpDir(), 'library');
    const b = testBackend(dataDir);
    const bundle = await addTinyBundle(b, 7, { name: 'tiny' });
    await b.close();
    const file = fs.readdirSync(source, { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
    const out = JSON.parse(
      runCli(
        [
          'classify',
          '--bundle',
          bundle.dir,
          '--task',
          'Breast density',
          '--dicom',
          path.join(file.parentPath, file.name),
          '--device',
          'cpu',
          '--json',
        ],
        {
          dataDir,
        },
      ),
    ) as { device: string; deviceRecord: unknown };
    expect(out.device).toBe('cpu');
    const d = DeviceRunRecord.parse(out.deviceRecord);
    expect(d).toMatchObject({ requested: 'cpu', provider: 'cpu', reason: 'requested explicitly (--device cpu)' });
    expect(Object.keys(d.graphs).sort()).toEqual(['image_encoder', 'text_encoder']);
    for (const g of Object.values(d.graphs)) expect(g).toMatchObject({ provider: 'cpu', allNodesOnProvider: true, deterministic: true });
  });
});
