// `--weights float32|int8` reaches what the commands write: `cleft embed`'s output metadata,
// `cleft classify --dicom --json`, and for `cleft classify --study` the job's result and the run
// record in the library. float32 stays the default; a bad value is refused; a results list records it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DB_FILE_NAME, openDatabase } from '../../../../src/main/db/database';
import { RunsRepo } from '../../../../src/main/db/runs-repo';
import { QUICK_SIZES, writeTinyModels } from '../../../../src/native/cleft/tiny-models';
import { readSafetensorsHeader, readTensor } from '../../../../src/native/formats/safetensors';
import { cliOutcome, runCli, writeTokenIds } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { addTinyBundle, importExams, testBackend } from '../../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

describe('--weights', () => {
  it('cleft embed writes the precision into its output; int8 embeddings are close to float32', { timeout: 300_000 }, () => {
    const parts = writeTinyModels(tmpDir(), QUICK_SIZES, 3);
    const cache = path.join(tmpDir(), 'cache');
    const ids = writeTokenIds(tmpDir());
    const embed = (extra: string[]) => {
      const out = path.join(tmpDir(), 'text.safetensors');
      const stdout = runCli([
        'embed',
        'text',
        '--model',
        parts.text,
        '--input',
        ids,
        '--output',
        out,
        '--device',
        'cpu',
        '--cache-dir',
        cache,
        ...extra,
      ]);
      const h = readSafetensorsHeader(out);
      return { stdout, meta: h.metadata!, emb: readTensor(h, 'embedding').data as Float32Array };
    };
    const f = embed([]);
    const q = embed(['--weights', 'int8']);
    expect(f.meta.weights).toBe('float32');
    expect(q.meta.weights).toBe('int8');
    expect(q.stdout).toMatch(/int8 weights/);
    const max = Math.max(...f.emb.map(Math.abs));
    const err = Math.max(...f.emb.map((v, i) => Math.abs(v - q.emb[i]!)));
    expect(err).toBeGreaterThan(0);
    expect(err / max).toBeLessThan(0.05);
    const bad = cliOutcome([
      'embed',
      'text',
      '--model',
      parts.text,
      '--input',
      ids,
      '--output',
      path.join(tmpDir(), 'x.safetensors'),
      '--weights',
      'int4',
    ]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--weights.*int4.*float32, int8/s);
  });

  it('cleft classify: --dicom prints it, --study records it in job and run, a list in its file', { timeout: 300_000 }, async () => {
    requireDump2dcm();
    const source = tmpDir('cleft-dicom-');
    writeFourViewExam(source, 1);
    const dataDir = path.join(tmpDir(), 'library');
    const b = testBackend(dataDir);
    const bundle = await addTinyBundle(b, 7, { name: 'tiny' });
    const studies = await importExams(b, source);
    await b.close();
    const file = fs.readdirSync(source, { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
    const dicom = [
      'classify',
      '--bundle',
      bundle.dir,
      '--task',
      'Breast density',
      '--dicom',
      path.join(file.parentPath, file.name),
      '--json',
    ];
    const f = JSON.parse(runCli(dicom, { dataDir })) as { weights: string; exam: Record<string, number> };
    const q = JSON.parse(runCli([...dicom, '--weights', 'int8'], { dataDir })) as { weights: string; exam: Record<string, number> };
    expect(f.weights).toBe('float32');
    expect(q.weights).toBe('int8');
    expect(q.exam).not.toEqual(f.exam);

    const uid = studies[0]!.studyUid;
    const out = JSON.parse(
      runCli(['classify', '--bundle', bundle.dir, '--task', 'Breast density', '--study', uid, '--weights', 'int8', '--json'], {
        dataDir,
      }),
    ) as { runId: number; weights: string };
    expect(out.weights).toBe('int8');
    const db = openDatabase(path.join(dataDir, DB_FILE_NAME), { readonly: true });
    try {
      expect(new RunsRepo(db).getRun(out.runId).record.weights).toBe('int8');
    } finally {
      db.close();
    }

    // A list's results file records it (test/unit/main/cli/classify-shards-cli.test.ts: shards, merge, resume).
    const list = path.join(tmpDir(), 'list.txt');
    fs.writeFileSync(list, `${path.join(file.parentPath, file.name)}\n`);
    const results = path.join(tmpDir(), 'r.safetensors');
    const listed = JSON.parse(
      runCli(
        [
          'classify',
          '--bundle',
          bundle.dir,
          '--task',
          'Breast density',
          '--dicom-list',
          list,
          '--output',
          results,
          '--weights',
          'int8',
          '--json',
        ],
        { dataDir },
      ),
    ) as { weights: string; status: string };
    expect(listed).toMatchObject({ status: 'written', weights: 'int8' });
    expect(readSafetensorsHeader(results).metadata!.weights).toBe('int8');
  });
});
