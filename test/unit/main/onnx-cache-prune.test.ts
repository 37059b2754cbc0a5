// Deleting a model frees its disk space even though the ONNX cache hard-linked its weights: the
// deleted model's links and the artifacts using them go, another model's cached artifacts stay
// and are still used (cache hit), and a model registered in place (not ours to delete) keeps its
// cache entries.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/main/db/database';
import { deleteModel, importModel } from '../../../src/main/models/registry';
import { embedImages } from '../../../src/native/models/embed';
import { pruneOnnxCache } from '../../../src/native/formats/onnx-cache';
import { QUICK_SIZES, writeTinyModels } from '../../../src/native/cleft/tiny-models';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

function du(dir: string): { files: string[]; inodes: Map<number, number> } {
  const files: string[] = [];
  const inodes = new Map<number, number>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else {
        files.push(path.relative(dir, f));
        const st = fs.statSync(f);
        inodes.set(st.ino, st.size);
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return { files: files.sort(), inodes };
}

describe('ONNX cache pruning', () => {
  it('frees a deleted model’s hard-linked weights and artifacts, keeps the others', async () => {
    const dataDir = tmpDir('prune-data-');
    const db = openDatabase(path.join(dataDir, 'library.db'));
    const cacheDir = path.join(dataDir, 'cache', 'onnx');
    const a = await importModel(db, dataDir, writeTinyModels(tmpDir(), QUICK_SIZES, 1).image, { name: 'a', copy: true });
    const b = await importModel(db, dataDir, writeTinyModels(tmpDir(), QUICK_SIZES, 2).image, { name: 'b', copy: true });
    const size = QUICK_SIZES.imageSize;
    const px = new Float32Array(3 * size * size).fill(0.25);
    const embed = (dir: string) =>
      embedImages({ modelDir: dir, cacheDir, pixelValues: px, shape: [1, 3, size, size], onWarning: () => undefined });
    await embed(a.path);
    await embed(b.path);
    const before = du(cacheDir);
    const aWeights = fs.statSync(path.join(a.path, 'model.safetensors'));
    expect(aWeights.nlink).toBe(2); // the model file and its link in the cache
    expect(before.files.filter((f) => f.endsWith('.onnx'))).toHaveLength(2);

    deleteModel(db, dataDir, a.id);
    const after = du(cacheDir);
    // a's link and a's artifact are gone: no file in the cache shares a's inode any more.
    expect(after.inodes.has(aWeights.ino)).toBe(false);
    expect(after.files.filter((f) => f.endsWith('.onnx'))).toHaveLength(1);
    expect(after.files.length).toBe(before.files.length - 2);
    // b's artifact is intact and still found by the next build.
    const again = await embed(b.path);
    expect(again.artifact.cacheHit).toBe(true);
    // Nothing else to prune; a second pass is a no-op.
    expect(pruneOnnxCache(cacheDir).removedFiles).toEqual([]);
    db.close();
  });

  it('keeps the entries of a model registered in place when another is deleted', async () => {
    const dataDir = tmpDir('prune-data-');
    const db = openDatabase(path.join(dataDir, 'library.db'));
    const cacheDir = path.join(dataDir, 'cache', 'onnx');
    const inPlace = await importModel(db, dataDir, writeTinyModels(tmpDir(), QUICK_SIZES, 3).image, { copy: false, name: 'mine' });
    const copied = await importModel(db, dataDir, writeTinyModels(tmpDir(), QUICK_SIZES, 4).image, { name: 'copied', copy: true });
    const size = QUICK_SIZES.imageSize;
    const px = new Float32Array(3 * size * size).fill(0.5);
    await embedImages({ modelDir: inPlace.path, cacheDir, pixelValues: px, shape: [1, 3, size, size], onWarning: () => undefined });
    // Pruning with every model alive removes nothing.
    expect(pruneOnnxCache(cacheDir).removedFiles).toEqual([]);
    deleteModel(db, dataDir, copied.id);
    const r = await embedImages({
      modelDir: inPlace.path,
      cacheDir,
      pixelValues: px,
      shape: [1, 3, size, size],
      onWarning: () => undefined,
    });
    expect(r.artifact.cacheHit).toBe(true);
    db.close();
  });
});
