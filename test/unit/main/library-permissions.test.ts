// The library is private to its user: every folder the app makes in it is 0700 and every file 0600
// (database, -wal/-shm, jobs, caches, imported models, what jobs write into bundles), whether the
// library is opened by the back end (app, web host) or by the command line, and whatever the
// umask it was started with. An existing library left readable by others is tightened when opened.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { JobSpec } from '../../../src/common/jobs';
import { createModelBundle } from '../../../src/main/models/registry';
import { defaultTokenizerDir } from '../../../src/native/cleft/demo';
import { QUICK_SIZES, writeTinyModels } from '../../../src/native/cleft/tiny-models';
import { callApi } from '../../helpers/api';
import { runCli } from '../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { importExams, taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);
// What a user's shell usually has: files 0644, folders 0755 unless the app says otherwise.
beforeEach(() => void process.umask(0o022));

/** Every entry under `root` (root included) whose mode is not 0700 (folders) or 0600 (files). */
function notPrivate(root: string): string[] {
  const bad: string[] = [];
  const visit = (p: string) => {
    const st = fs.lstatSync(p);
    const mode = st.mode & 0o777;
    if (st.isDirectory()) {
      if (mode !== 0o700) bad.push(`${path.relative(root, p) || '.'}/ ${mode.toString(8)}`);
      for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    } else if (mode !== 0o600) bad.push(`${path.relative(root, p)} ${mode.toString(8)}`);
  };
  visit(root);
  return bad;
}

/** A tiny CLEFT bundle outside any library (not registered). */
async function tinyBundleFolder(seed: number): Promise<string> {
  const parts = writeTinyModels(tmpDir(), QUICK_SIZES, seed);
  const made = await createModelBundle(null, tmpDir(), {
    output: path.join(tmpDir(), 'bundle'),
    textModel: parts.text,
    imageModel: parts.image,
    heads: parts.heads,
    tokenizer: defaultTokenizerDir(),
    register: false,
  });
  return made.dir;
}

function exams(): { source: string; files: string[] } {
  requireDump2dcm();
  const source = tmpDir('cleft-dicom-');
  const files = [1, 2].flatMap((n) => writeFourViewExam(source, n));
  return { source, files };
}

describe.skipIf(process.platform === 'win32')('library permissions', () => {
  it(
    'a library made by the back end: folders 0700, files 0600, after an import, a model copy and training',
    { timeout: 600_000 },
    async () => {
      const dataDir = path.join(tmpDir(), 'library');
      const b = testBackend(dataDir);
      try {
        const density = await taskNamed(b);
        const model = await callApi(b, 'models.import', { path: await tinyBundleFolder(3), copy: true });
        expect(model.path.startsWith(path.join(dataDir, 'models'))).toBe(true);
        const studies = await importExams(b, exams().source);
        for (const [i, s] of studies.entries())
          for (const side of ['L', 'R'] as const)
            await callApi(b, 'labels.set', {
              target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
              className: (i + (side === 'L' ? 1 : 0)) % 2 === 0 ? 'A' : 'B',
            });
        const learn = await b.jobs.waitFor(
          b.jobs.enqueue(
            JobSpec.parse({
              kind: 'prompt-learn',
              params: { modelId: model.id, taskId: density.id, nCtx: 2, steps: 4, batchSize: 4, valFraction: 0.25, seed: 1, name: 'p' },
            }),
          ).id,
        );
        expect(learn.error).toBeNull();
        const classify = await b.jobs.waitFor(
          (
            await callApi(b, 'classify.start', {
              modelId: model.id,
              taskId: density.id,
              studyIds: studies.map((s) => s.id),
              promptSet: 'p',
            })
          ).id,
        );
        expect(classify.error).toBeNull();
        expect(fs.existsSync(path.join(dataDir, 'library.sqlite-wal'))).toBe(true); // checked while open
        expect(fs.readdirSync(path.join(dataDir, 'jobs')).length).toBeGreaterThan(0);
        expect(notPrivate(dataDir)).toEqual([]);
      } finally {
        b.close();
      }
      expect(notPrivate(dataDir)).toEqual([]);
    },
  );

  it('a library made by the command line: folders 0700, files 0600', { timeout: 600_000 }, () => {
    const dataDir = path.join(tmpDir(), 'library');
    const { source, files } = exams();
    const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir]);
    return (async () => {
      const bundle = await tinyBundleFolder(5);
      cli('import', source);
      const rec = JSON.parse(cli('models', 'import', bundle, '--json')) as { path: string };
      cli('classify', '--bundle', rec.path, '--task', 'Breast density', '--dicom', files[0]!);
      cli('jobs', 'hash-folder', source);
      expect(fs.existsSync(path.join(dataDir, 'cache', 'onnx'))).toBe(true);
      expect(notPrivate(dataDir)).toEqual([]);
    })();
  });

  it('opening a library that others can read tightens its folder and database', () => {
    const dataDir = path.join(tmpDir(), 'library');
    testBackend(dataDir).close();
    fs.chmodSync(dataDir, 0o755);
    fs.chmodSync(path.join(dataDir, 'library.sqlite'), 0o644);
    testBackend(dataDir).close();
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dataDir, 'library.sqlite')).mode & 0o777).toBe(0o600);
  });
});
