// `models inspect` and a bundle's identity: learned prompt sets and adaptors are additions (each
// checked against its own hash in the bundle manifest), so saving one, even without the library's
// record being refreshed (a kill between the two), is not "identity changed since the import"; a
// change of the model itself (weights, pooling) still is.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/main/db/database';
import { importModel, inspectModel } from '../../../src/main/models/registry';
import { hashFiles } from '../../../src/native/io/hash';
import { BUNDLE_MANIFEST, addAdaptor, addPromptSet, createBundle, manifestBaseSha256, openBundle } from '../../../src/native/bundle/index';
import { readTensorF32, writeSafetensors } from '../../../src/native/formats/safetensors';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

const REF = path.resolve(__dirname, '../../fixtures/reference-a');
afterAll(removeTmpDirs);

async function registeredBundle() {
  const dataDir = tmpDir('identity-');
  const db = openDatabase(path.join(dataDir, 'library.sqlite'));
  const made = await createBundle(path.join(tmpDir(), 'b'), {
    name: 'tiny-cleft',
    textModel: path.join(REF, 'gpt2'),
    imageModel: path.join(REF, 'vit'),
    heads: path.join(REF, 'heads.safetensors'),
  });
  const rec = await importModel(db, dataDir, made.dir, { copy: false });
  return { db, rec, dir: made.dir };
}

/** Rewrites the manifest with `edit` applied and the file hashes of `changed` recomputed (a consistent bundle). */
async function rewriteManifest(dir: string, changed: string[], edit: (m: Record<string, unknown>) => void = () => {}) {
  const file = path.join(dir, BUNDLE_MANIFEST);
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> & { files: Record<string, unknown> };
  for (const h of await hashFiles(dir, changed)) m.files[h.path] = { size: h.size, sha256: h.sha256 };
  edit(m);
  fs.writeFileSync(file, JSON.stringify(m, null, 2));
}

describe('model identity in models inspect', () => {
  it('a prompt set or adaptor saved into the bundle (record not refreshed) is not an identity change', async () => {
    const { db, rec, dir } = await registeredBundle();
    let b = await openBundle(dir);
    const base = b.baseSha256;
    b = await addPromptSet(
      b,
      'density',
      { data: new Float32Array(3 * 64), shape: [3, 64] },
      { task: 'Breast density', classNames: ['A', 'B'], nCtx: 3 },
    );
    const D = b.heads.heads.projDim;
    b = await addAdaptor(
      b,
      'probe',
      { weight: { shape: [2, D], data: new Float32Array(2 * D) }, bias: { shape: [2], data: new Float32Array(2) } },
      { task: 'Breast density', classNames: ['A', 'B'], mode: 'linear-probe' },
    );
    expect(b.sha256).not.toBe(rec.sha256); // the full identity (recorded with runs) names the additions
    expect(b.baseSha256).toBe(base);
    expect(manifestBaseSha256(b.manifest)).toBe(base);
    expect((await inspectModel(db, rec.id, { hash: true })).inspection.problems).toEqual([]);
    // replaced with other values: still an addition, still clean
    await addPromptSet(
      b,
      'density',
      { data: new Float32Array(3 * 64).fill(0.5), shape: [3, 64] },
      { task: 'Breast density', classNames: ['A', 'B'], nCtx: 3 },
      { replace: true },
    );
    expect((await inspectModel(db, rec.id, { hash: true })).inspection.problems).toEqual([]);
    db.close();
  });

  it('changed weights or pooling are reported, with prompt sets present or not', async () => {
    const { db, rec, dir } = await registeredBundle();
    await addPromptSet(
      await openBundle(dir),
      'density',
      { data: new Float32Array(3 * 64), shape: [3, 64] },
      { task: 'Breast density', classNames: ['A', 'B'], nCtx: 3 },
    );
    // new head weights, manifest hashes updated to match (the bundle itself is consistent)
    const heads = path.join(dir, 'heads.safetensors');
    const t = readTensorF32(heads, 'text_projection.weight');
    const v = readTensorF32(heads, 'visual_projection.weight');
    const s = readTensorF32(heads, 'logit_scale');
    const b0 = await openBundle(dir);
    writeSafetensors(heads, {
      'text_projection.weight': {
        dtype: 'F32',
        shape: [b0.heads.heads.projDim, t.length / b0.heads.heads.projDim],
        data: t.map((x) => x + 1),
      },
      'visual_projection.weight': { dtype: 'F32', shape: [b0.heads.heads.projDim, v.length / b0.heads.heads.projDim], data: v },
      logit_scale: { dtype: 'F32', shape: [], data: s },
    });
    await rewriteManifest(dir, ['heads.safetensors']);
    expect((await openBundle(dir)).baseSha256).not.toBe(b0.baseSha256);
    const weights = (await inspectModel(db, rec.id, { hash: true })).inspection.problems;
    expect(weights.join('\n')).toMatch(/heads\.safetensors: (sha256 changed since the import|size \d+ bytes, it was \d+ when imported)/);

    // pooling changed in the manifest alone: no file differs, the identity does
    const { db: db2, rec: rec2, dir: dir2 } = await registeredBundle();
    await addPromptSet(
      await openBundle(dir2),
      'density',
      { data: new Float32Array(3 * 64), shape: [3, 64] },
      { task: 'Breast density', classNames: ['A', 'B'], nCtx: 3 },
    );
    await rewriteManifest(dir2, [], (m) => ((m.image as { pooling: string }).pooling = 'prenorm-mean'));
    const pooling = (await inspectModel(db2, rec2.id, { hash: true })).inspection.problems;
    expect(pooling).toEqual([expect.stringMatching(/identity changed since the import/)]);
    db.close();
    db2.close();
  });
});
