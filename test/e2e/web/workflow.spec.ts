// The researcher's loop on a host of its own: the quick offline demo from the Library's empty
// state, the demo bundle and engine on Models, classify and metrics drawn on Predictions with a
// CSV export, and a short prompt learning with its live curve and before/after table on Training.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServe, type ServeProcess } from '../serve';
import { expect, hostApi, navLink, screenshot, test } from './fixtures';

let host: ServeProcess;
let dataDir: string;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-workflow-'));
  host = await startServe(dataDir);
});

test.afterAll(async () => {
  await host?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the tiny demo runs from the empty Library and fills it', async ({ page, consoleErrors }) => {
  test.setTimeout(240_000);
  await page.goto(host.url);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Library');
  const card = page.getByTestId('demo-card');
  await expect(card.getByRole('heading', { name: 'Try the offline demo' })).toBeVisible();
  await screenshot(page, 'demo-empty');
  await card.getByRole('button', { name: 'Tiny (seconds, barely trained)' }).click();
  await expect(card.getByRole('progressbar', { name: 'Demo progress' })).toBeVisible();
  await page.waitForTimeout(3000);
  await screenshot(page, 'demo-running');
  await expect(card).toHaveAttribute('data-status', 'done', { timeout: 200_000 });
  await expect(card).toContainText('The demo is ready');
  await expect(card).toContainText(/\d+ phantom studies in the library/);
  await expect(card.getByTestId('demo-accuracy')).toContainText(
    /chance 25%\):\s+per image \d+(\.\d)?% zero-shot →\s+\d+(\.\d)?% after prompt learning/,
  );
  await screenshot(page, 'demo-done');
  await card.getByRole('button', { name: 'Open the Library' }).click();
  const table = page.getByRole('table', { name: 'Studies in the library' });
  await expect(table.locator('tbody tr').first()).toBeVisible();
  expect(consoleErrors).toEqual([]);
});

test('Models lists the demo bundle and the engine', async ({ page, consoleErrors }) => {
  await page.goto(`${host.url}#/models`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Models');
  const table = page.getByRole('table', { name: 'Registered models' });
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await expect(table).toContainText('CLEFT demo');
  await expect(table).toContainText('CLEFT bundle');
  const engine = page.getByTestId('engine-card');
  await expect(engine).toContainText('CPU');
  await expect(engine).toContainText('telemetry off');
  await table.getByRole('button', { name: /^CLEFT demo/ }).click();
  const inspection = page.getByTestId('model-inspection');
  await expect(inspection).toContainText('Text encoder');
  await expect(inspection.getByRole('table', { name: 'Prompt sets' })).toContainText('density-demo');
  await screenshot(page, 'models');
  expect(consoleErrors).toEqual([]);
});

test('Viewer: one-click Classify shows bars per view, breast and exam, with what ran named', async ({ page, consoleErrors }) => {
  test.setTimeout(120_000);
  await page.goto(host.url);
  const table = page.getByRole('table', { name: 'Studies in the library' });
  await table.locator('tbody tr').first().getByRole('link').click();
  await expect(page.getByTestId('hanging').locator('[data-renders]:not([data-renders="0"])')).toHaveCount(4);
  const labeling = page.getByRole('complementary', { name: 'Labeling' });
  await labeling.getByLabel('Task').selectOption({ label: 'Breast density' });
  const panel = page.getByTestId('classify-panel');
  await expect(panel.getByLabel('Classify with model')).toContainText('CLEFT demo');
  await expect(panel).toHaveAttribute('data-state', 'none');

  // The key: C classifies the open study with the chosen model and the task's templates.
  const clicked = Date.now();
  await page.keyboard.press('c');
  await expect(panel).toHaveAttribute('data-state', 'new', { timeout: 60_000 });
  const seconds = (Date.now() - clicked) / 1000;
  console.log(`viewer Classify: ${seconds.toFixed(1)} s from the key to the bars`);
  await expect(page.getByTestId('view-prediction')).toHaveCount(4);
  await expect(page.getByTestId('view-prediction').first().getByTestId('prob-columns')).toHaveAttribute(
    'aria-label',
    /Probabilities: A \d+%, B/,
  );
  for (const id of ['classify-breast-R', 'classify-breast-L', 'classify-exam'])
    await expect(page.getByTestId(id).getByTestId('prob-columns')).toBeVisible();
  await expect(page.getByTestId('classify-device')).toHaveText('CPU');
  const provenance = page.getByTestId('classify-provenance');
  await expect(provenance).toContainText('CLEFT demo');
  await expect(provenance).toContainText('task prompt templates');
  await expect(page.getByTestId('classify-results')).toContainText("Per breast and per exam = mean of the views' probabilities");

  // An exam label that differs from the model's exam class is marked at once.
  const predicted = (await page.getByTestId('classify-exam').getByTestId('top-class').textContent())!.trim().split(' ')[0]!;
  await labeling.getByLabel('Auto-advance').uncheck();
  await labeling.getByRole('radio', { name: 'Exam' }).click();
  const other = ['A', 'B', 'C', 'D'].find((c) => c !== predicted)!;
  await labeling
    .getByRole('group', { name: 'Classes' })
    .locator('button.class')
    .filter({ has: page.locator('.cname', { hasText: other }) })
    .click();
  await expect(page.getByTestId('classify-exam').getByTestId('disagreement')).toHaveText(`≠ label ${other}`);
  await screenshot(page, 'viewer-classify');

  // Coming back shows the same run at once, named as cached.
  await page.reload();
  await expect(panel).toHaveAttribute('data-state', 'cached', { timeout: 15_000 });
  await expect(page.getByTestId('view-prediction')).toHaveCount(4);
  await expect(page.getByTestId('classify-status')).toContainText('cached');
  expect(consoleErrors).toEqual([]);
});

test('Predictions: classify, filter, metrics drawn, CSV export', async ({ page, consoleErrors }) => {
  test.setTimeout(180_000);
  await page.goto(`${host.url}#/predictions`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Predictions');
  await expect(page.getByLabel('Task')).toHaveValue(/\d+/);
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  await page.getByRole('button', { name: 'Classify studies' }).click();
  await expect(page.getByRole('progressbar', { name: 'Classification progress' })).toBeVisible();
  await screenshot(page, 'predictions-classifying');
  // The metrics below are those of the whole run: wait for the job to end (its progress card goes),
  // not for its first rows (on a busy machine they show long before the last study is classified).
  await expect(page.getByTestId('classify-progress')).toBeHidden({ timeout: 150_000 });
  // The Viewer's classification above encoded the same task templates with the same model: this run
  // read their embeddings from the library's cache, and the run's details say so.
  await expect(page.getByTestId('run-prompt-embeddings')).toHaveText('· prompt embeddings from the cache (text encoder not run)');
  const table = page.getByTestId('predictions-table');
  await expect(table.locator('tbody tr').first()).toBeVisible();
  await expect(table.getByTestId('prob-bars').first()).toHaveAttribute('aria-label', /Probabilities: A \d+%/);

  // Breast-scope metrics drawn as pictures, with numbers.
  const metrics = page.getByTestId('metrics');
  await metrics.getByRole('button', { name: 'Breast' }).click();
  await expect(page.getByTestId('accuracy')).toHaveText(/\d+\.\d%/, { timeout: 30_000 });
  await expect(page.getByTestId('confusion-matrix').locator('rect')).toHaveCount(16);
  await expect(page.getByTestId('roc-chart').locator('path.series').first()).toBeVisible();
  await expect(page.getByTestId('reliability-chart').locator('circle').first()).toBeVisible();
  await expect(page.getByTestId('macro-auc')).toHaveText(/0\.\d{3}|1\.000/);
  await expect(metrics).toContainText('95% CI');
  await screenshot(page, 'predictions-metrics');

  // Filters: disagreements only.
  await page.getByLabel('Against the label').selectOption('disagree');
  await expect(page.getByText(/shown by the filters/)).toBeVisible();
  await table.scrollIntoViewIfNeeded();
  await screenshot(page, 'predictions-table');
  await page.getByLabel('Against the label').selectOption('');

  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export CSV' }).click();
  const file = await (await download).path();
  expect(fs.readFileSync(file, 'utf8')).toMatch(/^(scope,)?StudyInstanceUID,/);
  expect(consoleErrors).toEqual([]);
});

test('Library: prediction status, filter by class and disagreement, Classify all the filtered list', async ({ page, consoleErrors }) => {
  test.setTimeout(120_000);
  await page.goto(host.url);
  const table = page.getByRole('table', { name: 'Studies in the library' });
  const filters = page.getByRole('group', { name: 'Prediction filters' });
  await filters.getByLabel('Task').selectOption({ label: 'Breast density' });
  await expect(table.getByTestId('prediction-status').first()).toHaveText(/[A-D] \d+%/);
  const count = page.locator('.toolbar [role="status"]');
  const all = Number((await count.textContent())!.replace(/\D/g, ''));
  const rows = table.locator('tbody tr');
  // What the back end counts for each side, asked directly, so the page is checked against it.
  const api = hostApi(host.url);
  const taskId = ((await api('tasks.list', {})) as { id: number; name: string }[]).find((t) => t.name === 'Breast density')!.id;
  const totalFor = async (disagreement: boolean): Promise<number> =>
    ((await api('library.studies', { filter: { taskId, disagreement }, limit: 1 })) as { total: number }).total;
  /** Chooses an agreement filter; the status line and the table must show the back end's count. */
  const against = async (value: 'agree' | 'disagree'): Promise<number> => {
    const expected = await totalFor(value === 'disagree');
    await filters.getByLabel('Against labels').selectOption(value);
    await expect(count).toHaveText(`${expected} ${expected === 1 ? 'study' : 'studies'} match`);
    await expect(rows).toHaveCount(expected);
    return expected;
  };
  // Agreeing and disagreeing studies split the classified library between them (how many fall on
  // each side depends on the small demo model, so only the split is asserted).
  const agreeing = await against('agree');
  await expect(rows.getByTestId('disagreement')).toHaveCount(0);
  const n = await against('disagree');
  expect(n).toBeGreaterThan(0);
  expect(n + agreeing).toBe(all);
  await expect(rows.getByTestId('disagreement')).toHaveCount(n);
  await screenshot(page, 'library-filters');

  // The viewer walks the filtered list, not the whole library.
  await rows.first().getByRole('link').click();
  await expect(page.getByTestId('study-position')).toHaveText(`1 / ${n}`);
  if (n > 1) {
    await page.keyboard.press('j');
    await expect(page.getByTestId('study-position')).toHaveText(`2 / ${n}`);
  }
  await navLink(page, 'Library').click();
  await expect(rows).toHaveCount(n);

  // A predicted class narrows it further; Classify all runs over exactly that list.
  const first = (await rows.first().getByTestId('prediction-status').locator('.pclass').textContent())!.trim().split(' ')[0]!;
  const selected = (
    (await api('library.studies', { filter: { taskId, disagreement: true, predictedClass: first }, limit: 1 })) as { total: number }
  ).total;
  await filters.getByLabel('Predicted class').selectOption(first);
  await expect(count).toHaveText(`${selected} ${selected === 1 ? 'study' : 'studies'} match`);
  await expect(rows).toHaveCount(selected);
  await expect(rows.first().getByTestId('prediction-status')).toContainText(first);
  await filters.getByRole('button', { name: `Classify all ${selected}` }).click();
  await expect(page.getByText(`Classified ${selected} studies.`)).toBeVisible({ timeout: 60_000 });
  await filters.getByLabel('Against labels').selectOption('');
  await filters.getByLabel('Predicted class').selectOption('');
  await expect(rows).toHaveCount(all);
  expect(consoleErrors).toEqual([]);
});

test('Training: a short prompt learning with a live curve and before/after', async ({ page, consoleErrors }) => {
  test.setTimeout(180_000);
  await page.goto(`${host.url}#/training`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Training');
  await expect(page.getByLabel('Model')).toContainText('CLEFT demo');
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  await page.getByLabel('Prompt set name').fill('e2e-short');
  await page.getByLabel('Steps').fill('10');
  await page.getByLabel('Batch size').fill('8');
  await screenshot(page, 'training-form');
  await page.getByRole('button', { name: 'Start prompt learning' }).click();
  const run = page.getByTestId('training-run');
  await expect(run).toBeVisible();
  await expect(page.getByTestId('loss-chart').locator('path.series').first()).toBeVisible({ timeout: 120_000 });
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const table = page.getByTestId('before-after');
  await expect(table).toBeVisible();
  await expect(table.locator('tbody tr').first()).toContainText(/\d\.\d{3}/);
  await expect(page.getByTestId('curve-points')).toHaveText(/[1-9]\d* points/);
  await screenshot(page, 'training-done');

  // After a reload the curve comes back from jobs.metrics.
  await page.reload();
  await expect(page.getByTestId('loss-chart').locator('path.series').first()).toBeVisible();
  expect(consoleErrors).toEqual([]);
});

test('Predictions: classify again with the learned prompt set', async ({ page, consoleErrors }) => {
  test.setTimeout(120_000);
  // Earlier tests' jobs all finished first: a classification still running would add a run while
  // this test counts them. The runs before are then counted by the back end, and on the page.
  const api = hostApi(host.url);
  await expect
    .poll(
      async () =>
        (await api<unknown[]>('jobs.list', { status: 'running' })).length +
        (await api<unknown[]>('jobs.list', { status: 'queued' })).length,
      {
        timeout: 90_000,
      },
    )
    .toBe(0);
  await page.goto(`${host.url}#/predictions`);
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  await expect(page.getByLabel('Prompts').locator('option', { hasText: 'Learned: e2e-short' })).toHaveCount(1);
  await page.getByLabel('Prompts').selectOption({ label: 'Learned: e2e-short' });
  const densityId = (await api<{ id: number; name: string }[]>('tasks.list', {})).find((t) => t.name === 'Breast density')!.id;
  const runsBefore = (await api<{ predictions: number }[]>('runs.list', { taskId: densityId })).filter((r) => r.predictions > 0).length;
  await expect(page.getByLabel('Run').locator('option')).toHaveCount(runsBefore);
  await page.getByRole('button', { name: 'Classify studies' }).click();
  await expect(page.getByLabel('Run').locator('option')).toHaveCount(runsBefore + 1, { timeout: 90_000 });
  await expect(page.getByText(/prompts [0-9a-f]{10}/)).toBeVisible();
  // A prompt set never used to classify before: its embeddings were computed (and cached from now on).
  await expect(page.getByTestId('run-prompt-embeddings')).toHaveText('· prompt embeddings computed by the text encoder');
  // The prompt set learned on every labelled study of this small library (automatic split: training
  // and validation, no test part), so held out there is nothing to measure, and the page says so;
  // on all studies the figures come with "includes training data".
  await expect(page.getByTestId('metrics-empty')).toHaveText(
    /no labelled breast among the held-out predictions: the prompt set was learned on every labelled study/,
    { timeout: 30_000 },
  );
  await expect(page.getByTestId('accuracy')).toHaveCount(0);
  await page.getByLabel('Evaluate on').selectOption({ label: 'All studies' });
  await expect(page.getByTestId('accuracy')).toHaveText(/\d+\.\d%/, { timeout: 30_000 });
  await expect(page.getByTestId('includes-training')).toBeVisible();
  await screenshot(page, 'predictions-learned');

  // The runs side by side: on the breasts all of them predicted, every row has the same n (the back
  // end's count of shared targets); the new run is the current row; a row opens its run.
  const compare = page.getByTestId('runs-comparison');
  const rows = compare.locator('tbody tr');
  await expect(rows).toHaveCount(runsBefore + 1);
  const newest = Number(await page.getByLabel('Run', { exact: true }).inputValue());
  await expect(rows.first()).toHaveAttribute('data-run-id', String(newest));
  await expect(rows.first()).toHaveAttribute('aria-current', 'true');
  const taskId = densityId;
  const compared = (await api('runs.compare', { taskId, scope: 'breast', bootstrapSamples: 10 })) as {
    commonTargets: number;
    rows: { common: { n: number } | null }[];
  };
  const shared = compared.commonTargets;
  expect(shared).toBeGreaterThan(0);
  await expect(compare.getByRole('button', { name: `Shared targets (${shared})` })).toHaveAttribute('aria-pressed', 'true');
  // The new run's prompt set learned on every labelled breast: none of its predictions is held out
  // (nor of an older run that classified only studies the demo's bundle trained on, which its
  // manifest names); every other run is measured on the same shared targets.
  expect(compared.rows[0]!.common).toBeNull();
  const measured = compared.rows.filter((r) => r.common !== null);
  expect(measured.length).toBeGreaterThan(0);
  await expect(compare.getByTestId('compare-n')).toHaveText(measured.map(() => String(shared)));
  await expect(rows.first().getByTestId('compare-none')).toHaveText(/no labelled breast among its held-out predictions/);
  await compare.getByRole('button', { name: "Each run's own" }).click();
  await expect(compare).toContainText('Each run on all its labelled targets');
  await compare.scrollIntoViewIfNeeded();
  await screenshot(page, 'predictions-compare');
  const older = Number(await rows.nth(1).getAttribute('data-run-id'));
  await rows
    .nth(1)
    .getByRole('button', { name: new RegExp(`^#${older} `) })
    .click();
  await expect(page.getByLabel('Run', { exact: true })).toHaveValue(String(older));
  await expect(rows.nth(1)).toHaveAttribute('aria-current', 'true');
  // Nothing held out is an empty report, not an error: no failed response at all.
  expect(consoleErrors).toEqual([]);
});
