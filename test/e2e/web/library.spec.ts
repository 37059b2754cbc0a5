// Importing real (phantom) DICOM exams from the Library page, on a host with a library of its own
// so the other tests keep their empty states: the job finishes in the panel, the studies table
// shows the four views, files that are not DICOM are listed with the reason, search narrows.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServe, type ServeProcess } from '../serve';
import { expect, screenshot, test } from './fixtures';

let host: ServeProcess;
let dataDir: string;
let phantoms: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-library-'));
  phantoms = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-phantoms-'));
  execFileSync(process.execPath, [path.join(ROOT, 'bin/cleft.mjs'), 'phantom', '--out', phantoms, '--exams', '3'], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  host = await startServe(dataDir);
});

test.afterAll(async () => {
  await host?.stop();
  for (const dir of [dataDir, phantoms]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('imports a folder of exams and lists the studies with their views', async ({ page, consoleErrors }) => {
  await page.goto(host.url);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Library');
  await expect(page.getByText('No studies yet', { exact: true })).toBeVisible();

  await page.getByLabel('Folder of DICOM files').fill(phantoms);
  await page.getByLabel('Folder of DICOM files').press('Enter'); // Enter imports

  const job = page.getByRole('region', { name: 'Jobs' }).locator('article[data-job-id]').first();
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(job).toContainText('Import DICOM');
  await expect(job).toContainText('3 studies · 12 new images');

  // The page leaves its empty state by itself once the counts change.
  const table = page.getByRole('table', { name: 'Studies in the library' });
  await expect(table).toBeVisible();
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await expect(table.locator('tbody tr').first().getByLabel('Views: ')).toHaveAttribute('aria-label', /RCC/);
  await expect(page.getByText('3 studies', { exact: true })).toBeVisible();

  // report.txt and labels.json are not DICOM: listed as skipped, not silently dropped.
  await expect(page.getByText('6 files not imported')).toBeVisible();
  await page.getByText('6 files not imported').click();
  await expect(page.getByText(/report\.txt/).first()).toBeVisible();

  await page.getByRole('button', { name: 'Close jobs panel' }).click();
  await screenshot(page, 'library-imported');

  const firstPatient = (await table.locator('tbody tr').first().locator('td').first().locator('.mono').textContent())!.trim();
  await page.getByLabel('Search studies').fill(firstPatient);
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await page.getByLabel('Search studies').fill('no-such-patient');
  await expect(page.getByText('No study matches')).toBeVisible();
  expect(consoleErrors).toEqual([]);
});
