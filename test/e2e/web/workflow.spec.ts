// The researcher's loop on a host of its own: the quick offline demo from the Library's empty
// state, the demo bundle and engine on Models, classify and metrics drawn on Predictions with a
// CSV export, and a short prompt learning with its live curve and before/after table on Training.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServe, type ServeProcess } from '../serve';
import { expect, screenshot, test } from './fixtures';

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

test('the quick demo runs from the empty Library and fills it', async ({ page, consoleErrors }) => {
  test.setTimeout(240_000);
  await page.goto(host.url);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Library');
  const card = page.getByTestId('demo-card');
  await expect(card.getByRole('heading', { name: 'Try the offline demo' })).toBeVisible();
  await screenshot(page, 'demo-empty');
  await card.getByRole('button', { name: 'Quick (about a minute)' }).click();
  await expect(card.getByRole('progressbar', { name: 'Demo progress' })).toBeVisible();
  await page.waitForTimeout(3000);
  await screenshot(page, 'demo-running');
  await expect(card).toHaveAttribute('data-status', 'done', { timeout: 200_000 });
  await expect(card).toContainText('The demo is ready');
  await expect(card).toContainText(/\d+ phantom studies in the library/);
  await screenshot(page, 'demo-done');
  await card.getByRole('button', { name: 'Open the Library' }).click();
  const table = page.getByRole('table', { name: 'Studies in the library' });
  await expect(table.locator('tbody tr').first()).toBeVisible();
  expect(consoleErrors).toEqual([]);
});
