// `cleft models delete` and the app's models.delete are one path (registry deleteModel): the
// library's active prompt-set choices of the deleted model go with it, so a model imported later
// under the same id does not inherit them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DB_FILE_NAME, openDatabase } from '../../../../src/main/db/database';
import { ModelsRepo } from '../../../../src/main/db/models-repo';
import { PromptSetsRepo } from '../../../../src/main/db/prompt-sets-repo';
import { cliOutcome } from '../../../helpers/cli';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

describe('cleft models delete', () => {
  it('forgets the deleted model’s active prompt sets and leaves other models’ choices', { timeout: 120_000 }, () => {
    const dataDir = path.join(tmpDir(), 'library');
    const folder = tmpDir('cleft-model-'); // registered in place: the folder stays
    const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    let ids: number[];
    try {
      const models = new ModelsRepo(db);
      ids = ['a', 'b'].map((name) => models.insert({ name, kind: 'bundle', path: folder, manifestJson: '{}', sha256: name.repeat(64) }));
      const chosen = new PromptSetsRepo(db);
      for (const id of ids) chosen.setActive(id, 1, `site-${id}`);
    } finally {
      db.close();
    }
    const r = cliOutcome(['models', 'delete', String(ids[0]), '--data-dir', dataDir]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`deleted #${ids[0]} (its folder was left where it is)\n`);
    expect(fs.existsSync(folder)).toBe(true);
    const after = openDatabase(path.join(dataDir, DB_FILE_NAME), { readonly: true });
    try {
      const chosen = new PromptSetsRepo(after);
      expect([chosen.active(ids[0]!, 1), chosen.active(ids[1]!, 1)]).toEqual([null, `site-${ids[1]}`]);
      expect(new ModelsRepo(after).list().map((m) => m.name)).toEqual(['b']);
    } finally {
      after.close();
    }
  });
});
