// Import problems as the Library shows them (issue 17, item 5): a folder that does not exist fails
// its job naming the path; the phantoms' report.txt and labels.json are "skipped: not DICOM", apart
// from refused DICOM; and the counts are those of the latest import, not a running total.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServe, type ServeProcess } from '../serve';
import { expect, test } from './fixtures';

let host: ServeProcess;
let dataDir: string;
let phantoms: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-import-problems-'));
  phantoms = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-phantoms-'));
  execFileSync(process.execPath, [path.join(ROOT, 'bin/cleft.mjs'), 'phantom', '--out', phantoms, '--exams', '2'], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  host = await startServe(dataDir);
});

test.afterAll(async () => {
  await host?.stop();
  for (const dir of [dataDir, phantoms]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a missing folder fails naming it; not-DICOM files are said apart; counts are per import', async ({ page, consoleErrors }) => {
  await page.goto(host.url);
  const field = page.getByLabel('Folder of DICOM files');
  const jobs = page.getByRole('region', { name: 'Jobs' }).locator('article[data-job-id]');

  const missing = path.join(phantoms, 'no-such-folder');
  await field.fill(missing);
  await field.press('Enter');
  await expect(jobs.first()).toHaveAttribute('data-status', 'failed', { timeout: 60_000 });
  await expect(jobs.first()).toContainText(`${missing}: does not exist`);
  await expect(page.getByTestId('import-problems')).toHaveCount(0);

  for (const round of [1, 2]) {
    // Once studies are in, the folder field sits in a closed "Import or verify another folder".
    if (round === 2) await page.getByText('Import or verify another folder').click();
    await field.fill(phantoms);
    await field.press('Enter');
    await expect(jobs).toHaveCount(round + 1);
    await expect(jobs.first()).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
    // 2 exams: a report.txt and a labels.json each; the second import lists them again, not 8.
    await expect(page.getByText('4 files not imported')).toBeVisible();
    await expect(page.getByTestId('import-problem-groups')).toHaveText('none refused · 4 skipped: not DICOM');
  }
  expect(consoleErrors).toEqual([]);
});
