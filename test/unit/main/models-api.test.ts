import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { callApi } from '../../helpers/api';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

const fixtures = path.resolve(__dirname, '../../fixtures/reference-a');
let b: Backend;
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('models over the contract', () => {
  it('imports, lists, inspects and deletes a Hugging Face folder; refuses what is not a model', async () => {
    const dataDir = tmpDir();
    b = testBackend(dataDir);
    const vit = await callApi(b, 'models.import', { path: path.join(fixtures, 'vit'), name: 'tiny ViT' });
    expect(vit).toMatchObject({ name: 'tiny ViT', kind: 'hf-image', copied: true, summary: { family: 'vit' } });
    expect(vit.path.startsWith(path.join(dataDir, 'models'))).toBe(true);
    expect(await callApi(b, 'models.list', {})).toEqual([vit]);
    const { inspection } = await callApi(b, 'models.inspect', { id: vit.id, hash: true });
    expect(inspection.architecture).toMatchObject({ family: 'vit', modality: 'image' });
    expect(inspection.problems).toEqual([]);
    expect(inspection.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);

    await expect(callApi(b, 'models.import', { path: path.join(fixtures, 'vit') })).rejects.toMatchObject({ code: 'conflict' });
    const notAModel = tmpDir();
    fs.writeFileSync(path.join(notAModel, 'readme.txt'), 'hello');
    await expect(callApi(b, 'models.import', { path: notAModel })).rejects.toMatchObject({ code: 'invalid_input' });

    const deleted = await callApi(b, 'models.delete', { id: vit.id });
    expect(deleted).toEqual({ deleted: vit.id, removedFolder: vit.path });
    expect(fs.existsSync(vit.path)).toBe(false);
    expect(await callApi(b, 'models.list', {})).toEqual([]);
  });
});
