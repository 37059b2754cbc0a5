// From labels to a table of results on a host of its own (issue #12): the quick demo's phantoms
// with their density labels, a named split by patient, prompt learning on it from the Training page,
// a classification with the learned prompt set from Predictions, whose metrics say they cover the
// split's test part (and "includes training data" once all studies are chosen), and a pseudonymized
// CSV export keyed by DICOM UIDs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServe, type ServeProcess } from '../serve';
import { expect, hostApi, screenshot, test } from './fixtures';

let host: ServeProcess;
let dataDir: string;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-heldout-'));
  host = await startServe(dataDir);
});

test.afterAll(async () => {
  await host?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the quick demo fills the library with labelled phantoms', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(host.url);
  const card = page.getByTestId('demo-card');
  await card.getByRole('button', { name: 'Tiny (seconds, barely trained)' }).click();
  await expect(card).toHaveAttribute('data-status', 'done', { timeout: 280_000 });
});

test('train on a named split, evaluate on its test part, export a pseudonymized table', async ({ page, consoleErrors }) => {
  test.setTimeout(300_000);
  const api = hostApi(host.url);
  const task = (await api<{ id: number; name: string }[]>('tasks.list', {})).find((t) => t.name === 'Breast density')!;
  const split = await api<{ counts: { train: number; val: number; test: number } }>('splits.create', {
    name: 'e2e-split',
    taskId: task.id,
    fractions: [0.6, 0.2, 0.2],
    seed: 3,
  });
  expect(split.counts.test).toBeGreaterThan(0);

  // Training page: prompt learning on the named split.
  await page.goto(`${host.url}#/training`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Training');
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  await page.getByLabel('Prompt set name').fill('on-split');
  await page.locator('#pl-split').selectOption('e2e-split');
  await page.getByLabel('Steps').fill('5');
  await page.getByLabel('Batch size').fill('8');
  await page.getByRole('button', { name: 'Start prompt learning' }).click();
  const run = page.getByTestId('training-run');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 240_000 });

  // Predictions: classify every study with the learned prompt set.
  await page.goto(`${host.url}#/predictions`);
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  await page.locator('#pred-prompts').selectOption('on-split');
  await page.getByRole('button', { name: 'Classify studies' }).click();
  await expect(page.getByRole('progressbar', { name: 'Classification progress' })).toBeVisible();
  await expect(page.getByTestId('classify-progress')).toBeHidden({ timeout: 200_000 });

  const metrics = page.getByTestId('metrics');
  await metrics.getByRole('button', { name: 'Breast' }).click(); // the demo labels breasts
  // The held-out set is the split's test part less what the demo bundle itself was trained on (its
  // manifest's lineage): the page must show the same count the API evaluates.
  const runs = await api<{ id: number }[]>('runs.list', { taskId: task.id });
  const runId = Math.max(...runs.map((r) => r.id));
  const report = await api<{ evaluationSet: { studies: number; excludedStudies: number; lineage: string[] } }>('runs.evaluate', {
    runId,
    scope: 'breast',
    bootstrapSamples: 10,
  });
  const held = report.evaluationSet;
  expect(held.studies).toBeGreaterThan(0);
  expect(held.studies).toBeLessThanOrEqual(split.counts.test);
  expect(held.lineage.length).toBeGreaterThan(0);
  const set = page.getByTestId('evaluation-set');
  await expect(set).toContainText(
    `Evaluated on test part of split "e2e-split": ${held.studies} ${held.studies === 1 ? 'study' : 'studies'}`,
    {
      timeout: 60_000,
    },
  );
  await expect(set).toContainText(`${held.excludedStudies} used in training or validation left out`);
  await expect(page.getByTestId('includes-training')).toHaveCount(0);
  await expect(set).toContainText(/Intervals resample \d+ patients/);
  await screenshot(page, 'predictions-held-out');
  await page.locator('#metrics-studies').selectOption('all');
  await expect(page.getByTestId('includes-training')).toHaveText('includes training data', { timeout: 60_000 });
  await screenshot(page, 'predictions-includes-training');

  // Export: image scope, pseudonymized.
  await page.locator('#f-scope').selectOption('image');
  await page.getByLabel('Pseudonymize IDs').check();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export CSV' }).click();
  const csv = fs.readFileSync((await (await download).path())!, 'utf8');
  const [header, ...cells] = csvRows(csv);
  expect(header!.slice(0, 5)).toEqual(['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'AccessionNumber', 'PatientID']);
  expect(header!.slice(-7)).toEqual(['split_part', 'bundle', 'bundle_sha256', 'prompt_set', 'prompt_set_sha256', 'run_id', 'app_version']);
  const col = (name: string) => header!.indexOf(name);
  expect(cells.length).toBeGreaterThan(0);
  for (const c of cells) {
    expect(c[col('PatientID')]).toMatch(/^([0-9a-f]{16})?$/);
    expect(c[col('AccessionNumber')]).toMatch(/^([0-9a-f]{16})?$/);
    expect(c[col('SOPInstanceUID')]).toMatch(/^[0-9.]+$/);
    expect(c[col('prompt_set')]).toBe('on-split');
  }
  expect(new Set(cells.map((c) => c[col('split_part')]))).toEqual(new Set(['train', 'val', 'test']));
  expect(fs.statSync(path.join(dataDir, 'pseudonym.key')).mode & 0o777).toBe(0o600);
  expect(consoleErrors).toEqual([]);
});

/** Rows of a CSV with quoted cells (the bundle's name may hold a comma); no line breaks in cells here. */
function csvRows(csv: string): string[][] {
  return csv
    .trim()
    .split('\n')
    .map((line) => {
      const cells: string[] = [];
      let cell = '';
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        const ch = line[i]!;
        if (quoted && ch === '"' && line[i + 1] === '"') {
          cell += '"';
          i++;
        } else if (ch === '"') quoted = !quoted;
        else if (ch === ',' && !quoted) {
          cells.push(cell);
          cell = '';
        } else cell += ch;
      }
      cells.push(cell);
      return cells;
    });
}
