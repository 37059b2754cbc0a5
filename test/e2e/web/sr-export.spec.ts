// Predictions' "Export DICOM SR" on a host of its own: phantom exams and a tiny bundle added through
// the API, classified by the same job the Classify button runs; the page writes one SR per study
// into a typed folder, says so, and dciodvfy accepts every file.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatePhantoms } from '../../../src/main/dicom/phantom/index';
import { ROOT, startServe, type ServeProcess } from '../serve';
import { expect, hostApi, test } from './fixtures';

let host: ServeProcess;
let dataDir: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-sr-'));
  host = await startServe(dataDir);
});

test.afterAll(async () => {
  await host?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('Export DICOM SR writes one valid report per study of the selected run', async ({ page, consoleErrors }) => {
  test.setTimeout(300_000);
  const api = hostApi(host.url);
  type Job = { id: number; status: string; error: string | null; result: { runId?: number } | null };
  const finished = async (job: Job): Promise<Job> => {
    await expect.poll(async () => (await api<Job>('jobs.get', { id: job.id })).status, { timeout: 200_000 }).toMatch(/done|failed/);
    const j = await api<Job>('jobs.get', { id: job.id });
    expect(j.error).toBeNull();
    return j;
  };
  const exams = path.join(dataDir, 'exams');
  await generatePhantoms({ outDir: exams, exams: 2, seed: 9, size: 'small', syntaxes: ['explicit-le'] });
  await finished(await api<Job>('library.import', { paths: [exams] }));
  // Tiny random models (the unit tests' helper), written through tsx: the engine's modules import JSON.
  const parts = JSON.parse(
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        "import { QUICK_SIZES, writeTinyModels } from './src/native/cleft/tiny-models.ts'; import { defaultTokenizerDir } from './src/native/cleft/demo.ts';" +
          'console.log(JSON.stringify({ ...writeTinyModels(process.argv[1], QUICK_SIZES, 3), tokenizer: defaultTokenizerDir() }));',
        path.join(dataDir, 'tiny'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    ),
  ) as { text: string; image: string; heads: string; tokenizer: string };
  await api('models.createBundle', {
    output: path.join(dataDir, 'bundle'),
    name: 'tiny-e2e',
    textModel: parts.text,
    imageModel: parts.image,
    heads: parts.heads,
    tokenizer: parts.tokenizer,
  });
  const task = (await api<{ id: number; name: string }[]>('tasks.list', {})).find((t) => t.name === 'Breast density')!;
  const studies = await api<{ rows: { id: number }[] }>('library.studies', {});
  // Labels, so the metrics panel beside the button has something to evaluate (without any it answers 409).
  for (const [i, s] of studies.rows.entries())
    for (const side of ['L', 'R'] as const)
      await api('labels.set', {
        target: { taskId: task.id, studyId: s.id, scope: 'breast', laterality: side },
        className: ['A', 'B', 'C', 'D'][i * 2 + (side === 'L' ? 1 : 0)],
      });
  const runId = (await finished(await api<Job>('classify.start', { taskId: task.id, studyIds: studies.rows.map((s) => s.id) }))).result!
    .runId!;

  await page.goto(`${host.url}#/predictions`);
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  await expect(page.locator('#pred-run')).toHaveValue(String(runId));
  await page.getByRole('button', { name: 'Export DICOM SR' }).click();
  const out = path.join(dataDir, 'sr out');
  await page.getByLabel('Folder for the DICOM SR files').fill(out);
  await page.getByRole('button', { name: 'Write' }).click();
  await expect(page.getByRole('status').filter({ hasText: `2 DICOM SR files of run #${runId} written to ${out}` })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Export DICOM SR' })).toBeVisible();
  const files = fs.readdirSync(out);
  expect(files).toHaveLength(2);
  for (const f of files) {
    const v = spawnSync('dciodvfy', ['-new', path.join(out, f)], { encoding: 'utf8' });
    expect(`${v.stdout}${v.stderr}`.split('\n').filter((l) => /^Error/.test(l))).toEqual([]);
  }
  expect(consoleErrors).toEqual([]);
});
