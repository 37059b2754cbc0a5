// `cleft embed` records where it ran in its output file's metadata (`device`): the provider, why,
// and the encoder graph with its placement and determinism.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceRunRecord } from '../../../../src/common/device';
import { QUICK_SIZES, writeTinyModels } from '../../../../src/native/cleft/tiny-models';
import { readSafetensorsHeader } from '../../../../src/native/formats/safetensors';
import { runCli, writeTokenIds } from '../../../helpers/cli';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

describe('cleft embed', () => {
  it('writes the device record into its output metadata', { timeout: 300_000 }, () => {
    const parts = writeTinyModels(tmpDir(), QUICK_SIZES, 3);
    const out = path.join(tmpDir(), 'text.safetensors');
    const cache = path.join(tmpDir(), 'cache');
    runCli([
      'embed',
      'text',
      '--model',
      parts.text,
      '--input',
      writeTokenIds(tmpDir()),
      '--output',
      out,
      '--device',
      'cpu',
      '--cache-dir',
      cache,
    ]);
    const meta = readSafetensorsHeader(out).metadata!;
    const d = DeviceRunRecord.parse(JSON.parse(meta.device!));
    expect(d).toMatchObject({ requested: 'cpu', provider: 'cpu', reason: 'requested explicitly (--device cpu)' });
    expect(d.graphs).toEqual({
      text_encoder: {
        provider: 'cpu',
        allNodesOnProvider: true,
        deterministic: true,
        determinism: expect.stringMatching(/same thread count/),
      },
    });
  });
});
