// The job path from the UI: start a real hash-folder job from the Library page, watch it finish in
// the Jobs panel with its result; a job that fails says why, in the panel and as an alert.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectedFolderDigest, makeFileTree, removeTmpDirs } from '../../helpers/tmp';
import { expect, openApp, screenshot, test } from './fixtures';

test.afterAll(() => removeTmpDirs());

test('verifies a folder from the Library and shows the result in the Jobs panel', async ({ page, served, consoleErrors }) => {
  const folder = makeFileTree(12, 256 * 1024, 7);
  const expected = expectedFolderDigest(folder);
  await openApp(page, served, '#/library');

  await page.getByLabel('Folder of DICOM files').fill(folder);
  await page.getByRole('button', { name: 'Verify folder (hash files)' }).click();

  const panel = page.getByRole('region', { name: 'Jobs' });
  await expect(panel).toBeVisible();
  const job = panel.locator('article[data-job-id]').filter({ hasText: folder }).first();
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await expect(job.locator('.status')).toHaveText('Done');
  await expect(job).toContainText('12 files · 3.0 MB');
  await expect(job).toContainText(expected.digest);
  await expect(job).toContainText('manifest.txt');
  await expect(panel.getByRole('heading', { name: /Recent/ })).toBeVisible();
  await screenshot(page, 'jobs-done');
  expect(consoleErrors).toEqual([]);
});

test('a job that fails says why and can be resumed', async ({ page, served }) => {
  const missing = path.join(os.tmpdir(), `cleft-e2e-missing-${process.pid}-${Date.now()}`);
  expect(fs.existsSync(missing)).toBe(false);
  await openApp(page, served, '#/library');

  await page.getByLabel('Folder of DICOM files').fill(missing);
  await page.getByRole('button', { name: 'Verify folder (hash files)' }).click();

  const job = page.getByRole('region', { name: 'Jobs' }).locator('article[data-job-id]').filter({ hasText: missing }).first();
  await expect(job).toHaveAttribute('data-status', 'failed', { timeout: 30_000 });
  await expect(job).toContainText('is not a folder');
  await expect(page.getByRole('alert').filter({ hasText: 'failed' })).toContainText('is not a folder');
  await expect(job.getByRole('button', { name: 'Resume' })).toBeVisible();
  await screenshot(page, 'jobs-failed');

  // Resume requeues it; the folder still does not exist, so it fails again, honestly.
  const id = await job.getAttribute('data-job-id');
  await job.getByRole('button', { name: 'Resume' }).click();
  await expect(page.locator(`article[data-job-id="${id}"]`)).toHaveAttribute('data-status', 'failed', { timeout: 30_000 });
});

test('an empty folder path is refused inline, before any job starts', async ({ page, served }) => {
  await openApp(page, served, '#/library');
  await page.getByRole('button', { name: 'Verify folder (hash files)' }).click();
  const field = page.getByLabel('Folder of DICOM files');
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('Enter the full path of a folder on this machine.')).toBeVisible();
});

test('a running job shows progress and ETA, and can be cancelled and resumed', async ({ page, served }) => {
  // Sparse files: 32 GiB to hash and no disk used. Far more than any machine hashes before the test
  // has seen progress and an ETA and cancelled twice (each cancel waits for a state, not a duration),
  // so the job cannot finish first however fast the CPU is.
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-sparse-'));
  for (let i = 0; i < 128; i++) {
    const fd = fs.openSync(path.join(folder, `part-${i}.bin`), 'w');
    fs.ftruncateSync(fd, 256 * 1024 * 1024);
    fs.closeSync(fd);
  }
  try {
    await openApp(page, served, '#/library');
    await page.getByLabel('Folder of DICOM files').fill(folder);
    await page.getByRole('button', { name: 'Verify folder (hash files)' }).click();

    const job = page.getByRole('region', { name: 'Jobs' }).locator('article[data-job-id]').filter({ hasText: folder }).first();
    await expect(job).toHaveAttribute('data-status', 'running', { timeout: 30_000 });
    await expect(job).toContainText(/Hashed [1-9]\d* of 128 files/, { timeout: 30_000 });
    await expect(job.getByRole('progressbar')).toHaveAttribute('aria-valuenow', /^[1-9]\d?$/);
    await expect(job).toContainText(/left|almost done/);
    await screenshot(page, 'jobs-running');

    await job.getByRole('button', { name: 'Cancel' }).click();
    await expect(job).toHaveAttribute('data-status', 'cancelled', { timeout: 15_000 });
    await expect(job.getByRole('button', { name: 'Cancel' })).toHaveCount(0);

    await job.getByRole('button', { name: 'Resume' }).click();
    await expect(job).toHaveAttribute('data-status', /queued|running/);
    await job.getByRole('button', { name: 'Cancel' }).click();
    await expect(job).toHaveAttribute('data-status', 'cancelled', { timeout: 15_000 });
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});
