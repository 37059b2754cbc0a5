// The device a job runs on, from the UI: Device in Settings is every job's default; a training
// form can choose another; the Jobs drawer states the provider that ran each graph and why.
// CPU everywhere; WebGPU too where the host finds an adapter (its engine.status, as the Models page
// shows it; here Mesa 25's lavapipe, see .ci/run), else that part is skipped with the host's reason.
import type { Page } from '@playwright/test';
import { expect, hostApi, screenshot, test } from './fixtures';
import { useDemoHost } from './demo-host';

const demoHost = useDemoHost('device');

/** Starts an Adaptor (+ head: its module trains on the engine) from the form, with the Device given ('' = Settings). */
async function trainAdaptor(page: Page, name: string, device: string) {
  await page.goto(`${demoHost.host().url}#/training`);
  await page.getByRole('tab', { name: 'Adaptor' }).click();
  const form = page.getByTestId('ad');
  await page.getByLabel('Task').selectOption({ label: 'Breast density' });
  await form.getByLabel('Adaptor name').fill(name);
  await form.getByLabel('Kind').selectOption('adaptor');
  await form.getByLabel('Steps').fill('10');
  await form.getByLabel('Device').selectOption(device);
  await form.getByRole('button', { name: 'Train the adaptor' }).click();
  await expect(page.getByTestId('training-run')).toHaveAttribute('data-status', /done|failed/, { timeout: 240_000 });
}

/** The drawer's article of the newest Adaptor job, once done. */
async function adaptorJobInDrawer(page: Page, name: string) {
  const panel = page.getByRole('region', { name: 'Jobs' });
  if (!(await panel.isVisible())) await page.getByRole('button', { name: /^Jobs/ }).click();
  const job = panel.locator('article[data-job-id]').filter({ hasText: name }).first();
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  return job;
}

test('Device in Settings is the jobs’ default; the Jobs drawer says what ran each graph and why', async ({ page, consoleErrors }) => {
  test.setTimeout(300_000);
  await page.goto(`${demoHost.host().url}#/settings`);
  await page.getByLabel('Device', { exact: true }).selectOption('cpu');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText(/^Saved at/)).toBeVisible();

  await trainAdaptor(page, 'e2e-device-cpu', '');
  // The form offers the Settings' device as its default, by name.
  await expect(page.getByTestId('ad').getByLabel('Device')).toContainText('Settings default (cpu)');
  const job = await adaptorJobInDrawer(page, 'e2e-device-cpu');
  const fact = (label: string) => job.locator('dt', { hasText: new RegExp(`^${label}$`) }).locator('xpath=following-sibling::dd[1]');
  await expect(fact('Ran on')).toHaveText('cpu');
  await expect(fact('Why')).toHaveText('requested explicitly (--device cpu)');
  await expect(fact('Graphs')).toContainText('forward, train_step, optimizer: cpu, every node, deterministic');
  await expect(fact('Determinism')).toContainText('same thread count');
  await screenshot(page, 'jobs-device-cpu');
  expect(consoleErrors).toEqual([]);
});

test('a training form’s Device wins over Settings: WebGPU where an adapter exists', async ({ page }) => {
  const status = await hostApi(demoHost.host().url)<{ providers: { name: string; status: string; reason: string | null }[] }>(
    'engine.status',
    { refresh: false },
  );
  const webgpu = status.providers.find((p) => p.name === 'webgpu');
  test.skip(webgpu?.status !== 'loads', `no WebGPU adapter on this host: ${webgpu?.reason ?? 'the WebGPU provider is not listed'}`);
  test.setTimeout(600_000);
  await trainAdaptor(page, 'e2e-device-webgpu', 'webgpu');
  const job = await adaptorJobInDrawer(page, 'e2e-device-webgpu');
  const fact = (label: string) => job.locator('dt', { hasText: new RegExp(`^${label}$`) }).locator('xpath=following-sibling::dd[1]');
  await expect(fact('Ran on')).toHaveText('webgpu');
  await expect(fact('Why')).toHaveText('requested explicitly (--device webgpu)');
  await expect(fact('Graphs')).toContainText('webgpu');
  await expect(fact('Graphs')).toContainText('not deterministic');
});
