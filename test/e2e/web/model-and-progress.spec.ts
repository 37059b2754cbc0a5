// Which model, which prompts, and progress that tells the truth (issue 17, items 3 and 4), on the
// tiny demo's library: bundles named in full as base or LoRA, a new model offered but never switched
// to by itself, Predictions' selectors following the run picked, the patch map's classes A–D with a
// learned prompt set, explain jobs that say what they mapped, and prompt learning that stops when
// its validation loss stalls and says where.
import type { Job } from '../../../src/common/jobs';
import type { ModelRecord } from '../../../src/common/models';
import type { Run } from '../../../src/common/runs';
import { expect, hostApi, test } from './fixtures';
import { useDemoHost } from './demo-host';

const demoHost = useDemoHost('model-progress');

async function finished(api: ReturnType<typeof hostApi>, job: Job): Promise<Job> {
  let last = job;
  await expect
    .poll(
      async () => {
        last = await api<Job>('jobs.get', { id: job.id });
        return ['done', 'failed', 'cancelled'].includes(last.status);
      },
      { timeout: 240_000, intervals: [500] },
    )
    .toBe(true);
  return last;
}

test('the viewer names models in full, maps A–D with a learned set, and offers a new model instead of switching', async ({
  page,
  consoleErrors,
}) => {
  test.setTimeout(420_000);
  const api = hostApi(demoHost.host().url);
  await page.goto(demoHost.host().url);
  await page.getByRole('table', { name: 'Studies in the library' }).locator('tbody tr').first().getByRole('link').click();
  await page.getByRole('complementary', { name: 'Labeling' }).getByLabel('Task').selectOption({ label: 'Breast density' });
  const panel = page.getByTestId('classify-panel');
  const model = panel.getByLabel('Classify with model');
  await expect(model.locator('option:checked')).toHaveText(/^Base · CLEFT demo/);
  expect(await model.getAttribute('title')).toBe((await model.locator('option:checked').textContent())!.trim());

  // The demo's learned set stores its training phrases; the patch map still lists the task's classes.
  await panel.locator('#classify-prompts').selectOption('density-demo');
  await page.getByRole('heading', { level: 1 }).focus();
  await page.keyboard.press('m');
  const explain = page.getByTestId('explain-panel');
  await expect(explain).toHaveAttribute('data-state', 'shown', { timeout: 120_000 });
  const classSelect = explain.getByLabel('Class compared with the patches');
  await expect(classSelect.locator('option')).toHaveText(['A', 'B', 'C', 'D']);
  await expect(classSelect).toHaveValue('A');
  // One press of M is one job for the study's four images; it says which study, task, model and prompts it mapped (not just "Done").
  const explainJobs = await api<Job[]>('jobs.list', { kind: 'explain' });
  expect(explainJobs.map((j) => j.status)).toEqual(['done']);
  await page.getByRole('button', { name: /^Jobs/ }).click();
  const drawer = page.getByRole('region', { name: 'Jobs' });
  const mapped = drawer.locator('article[data-job-id]', { hasText: 'Where the model looks' });
  await expect(mapped).toHaveCount(1);
  await expect(mapped.first()).toContainText(/Patch maps of .+ \(4 images\)/);
  await expect(mapped.first()).toContainText('Breast density');
  await expect(mapped.first()).toContainText('learned “density-demo”');
  await expect(mapped.first()).toContainText('A, B, C, D');
  await page.getByRole('button', { name: 'Close jobs panel' }).click();

  // A LoRA model trained meanwhile: offered, not switched to.
  const base = (await api<ModelRecord[]>('models.list', { kind: 'bundle' }))[0]!;
  const lora = await finished(
    api,
    await api<Job>('train.lora', { modelId: base.id, name: 'e2e LoRA', epochs: 0.25, batchSize: 4, valFraction: 0.2 }),
  );
  expect(lora.error).toBeNull();
  await page.reload();
  await expect(model.locator('option:checked')).toHaveText(/^Base · CLEFT demo/);
  await expect(model.locator('option', { hasText: 'LoRA · e2e LoRA' })).toHaveCount(1);
  const offer = panel.getByTestId('new-model-offer');
  await expect(offer).toContainText('New model available');
  await expect(offer).toHaveAttribute('title', 'New model available: LoRA · e2e LoRA');
  await offer.getByRole('button', { name: 'Use it' }).click();
  await expect(model.locator('option:checked')).toHaveText('LoRA · e2e LoRA');
  await expect(offer).toHaveCount(0);
  // Chosen: it stays chosen, and nothing is offered again, after a reload.
  await page.reload();
  await expect(model.locator('option:checked')).toHaveText('LoRA · e2e LoRA');
  await expect(panel.getByTestId('new-model-offer')).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test("Predictions' model and prompts follow the run picked", async ({ page, consoleErrors }) => {
  test.setTimeout(300_000);
  const api = hostApi(demoHost.host().url);
  const base = (await api<ModelRecord[]>('models.list', { kind: 'bundle' })).find((m) => m.name.startsWith('CLEFT demo'))!;
  const task = (await api<{ id: number; name: string }[]>('tasks.list', {})).find((t) => t.name === 'Breast density')!;
  const studyIds = (await api<{ ids: number[] }>('library.studyIds', {})).ids.slice(0, 2);
  for (const promptSet of [null, 'density-demo'])
    expect(
      (await finished(api, await api<Job>('classify.start', { modelId: base.id, taskId: task.id, studyIds, promptSet }))).error,
    ).toBeNull();
  const runs = (await api<Run[]>('runs.list', { taskId: task.id })).filter((r) => r.kind === 'zero-shot' && r.modelId === base.id);
  const learned = runs.find((r) => r.promptSet === 'density-demo')!;
  const templates = runs.find((r) => r.promptSet === null)!;

  await page.goto(`${demoHost.host().url}#/predictions/run/${learned.id}`);
  await expect(page.locator('#pred-run')).toHaveValue(String(learned.id));
  await expect(page.locator('#pred-prompts')).toHaveValue('density-demo');
  await expect(page.locator('#pred-model').locator('option:checked')).toHaveText(`Base · ${base.name}`);
  await page.locator('#pred-run').selectOption(String(templates.id));
  await expect(page.locator('#pred-prompts')).toHaveValue('');
  await page.locator('#pred-run').selectOption(String(learned.id));
  await expect(page.locator('#pred-prompts')).toHaveValue('density-demo');
  expect(consoleErrors).toEqual([]);
});

test('prompt learning says when it stops early, and stops when its validation loss stalls', async ({ page, consoleErrors }) => {
  test.setTimeout(300_000);
  await page.goto(`${demoHost.host().url}#/training`);
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  const form = page.getByTestId('pl');
  await expect(form).toContainText('Stops when validation loss stalls (5 checks)');
  await form.getByLabel('Validation fraction').fill('0');
  await expect(form).toContainText('Runs them all: no validation part');
  await expect(form).not.toContainText('Stops when validation loss stalls');
  await form.getByLabel('Validation fraction').fill('0.3');

  // A learning rate of 1e-7 (below what the form offers, so through the API) moves the validation loss
  // by far less than 1 %: the run stops after its starting validation and 5 stalled ones, one every
  // 10 of its 100 updates, and the Training page says so.
  const api = hostApi(demoHost.host().url);
  const base = (await api<ModelRecord[]>('models.list', { kind: 'bundle' })).find((m) => m.name.startsWith('CLEFT demo'))!;
  const task = (await api<{ id: number; name: string }[]>('tasks.list', {})).find((t) => t.name === 'Breast density')!;
  const job = await api<Job>('train.promptLearn', {
    modelId: base.id,
    taskId: task.id,
    name: 'e2e-stall',
    nCtx: 2,
    steps: 100,
    batchSize: 8,
    valFraction: 0.3,
    lr: 1e-7,
  });
  await page.reload();
  await expect(page.getByRole('heading', { name: new RegExp(`^Job #${job.id} `) })).toBeVisible();
  const run = page.getByTestId('training-run');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(run).toContainText('stopped early at update 50 of 100: validation stalled');
  await expect(page.getByTestId('divergence-warning')).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});
