// The Archive page against a real Orthanc with its DICOMweb plugin and basic auth (issue #13), on a
// host of its own: save the archive in the page (the password is write-only), test it, search by
// patient, select a 4-view exam, retrieve it (a pacs-retrieve job), see "In library" turn to yes and
// the study in the Library; then classify it on Predictions, send the results to the archive and find
// the SR in Orthanc. Orthanc is started here and stopped by its PID at the end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QUICK_SIZES, writeTinyModels } from '../../../src/native/cleft/tiny-models';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { startOrthanc, type OrthancServer } from '../../helpers/orthanc';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { ROOT, startServe, type ServeProcess } from '../serve';
import { expect, hostApi, navLink, screenshot, test } from './fixtures';

const USER = 'reader';
const PASSWORD = 'e2e-Orthanc-pw-5513';
const WRONG = 'not-the-Pw-8812';
const STUDY = '1.2.826.0.1.3680043.9.7777.31';

let host: ServeProcess;
let orthanc: OrthancServer;
let dataDir: string;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  requireDump2dcm();
  orthanc = await startOrthanc({ users: { [USER]: PASSWORD } });
  const exams = tmpDir('cleft-e2e-archive-exams-');
  await orthanc.upload([...writeFourViewExam(exams, 31), ...writeFourViewExam(exams, 32)]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-archive-'));
  host = await startServe(dataDir);
  // A tiny bundle (random weights) to classify with: the SR's content is what is tested, not the model.
  const parts = writeTinyModels(tmpDir('cleft-e2e-archive-model-'), QUICK_SIZES, 13);
  await hostApi(host.url)('models.createBundle', {
    output: path.join(tmpDir('cleft-e2e-archive-bundle-'), 'bundle'),
    name: 'tiny-archive',
    textModel: parts.text,
    imageModel: parts.image,
    heads: parts.heads,
    tokenizer: path.join(ROOT, 'resources/demo/tokenizer'),
  });
});

test.afterAll(async () => {
  await host?.stop();
  await orthanc?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  removeTmpDirs();
});

test('save an archive, search by patient, retrieve a 4-view exam into the library', async ({ page, consoleErrors }) => {
  test.setTimeout(180_000);
  await page.goto(`${host.url}#/archive`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Archive');
  await expect(page.getByText('No archive yet', { exact: true })).toBeVisible();

  // A wrong password first: saved, but the test says the credentials were refused.
  const form = page.getByRole('form', { name: 'Add an archive' });
  await form.getByLabel('Name').fill('orthanc');
  await form.getByLabel('DICOMweb URL').fill(orthanc.dicomWebUrl);
  await form.getByLabel('Sign-in').selectOption('basic');
  await form.getByLabel('User').fill(USER);
  await form.getByLabel('Password').fill(WRONG);
  await form.getByRole('button', { name: 'Save archive' }).click();
  const saved = page.getByRole('table', { name: 'Saved archives' });
  await expect(saved.getByRole('row').filter({ hasText: 'orthanc' })).toContainText('basic · reader · secret stored');
  // The secret is write-only: the field is emptied and the page never holds it again.
  await expect(form.getByLabel('Sign-in')).toHaveValue('none');
  await form.getByLabel('Sign-in').selectOption('basic');
  await expect(form.getByLabel('Password')).toHaveValue('');
  await form.getByLabel('Sign-in').selectOption('none');
  expect(await page.content()).not.toContain(WRONG);
  await page.getByRole('button', { name: 'Test orthanc' }).click();
  await expect(page.getByTestId('archive-test-orthanc')).toContainText(/401|refused|credentials/i);

  // Saved again with the right password (remove, then add).
  await page.getByRole('button', { name: 'Remove orthanc' }).click();
  await expect(page.getByText('No archive yet', { exact: true })).toBeVisible();
  await form.getByLabel('Name').fill('orthanc');
  await form.getByLabel('DICOMweb URL').fill(orthanc.dicomWebUrl);
  await form.getByLabel('Sign-in').selectOption('basic');
  await form.getByLabel('User').fill(USER);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Save archive' }).click();
  await page.getByRole('button', { name: 'Test orthanc' }).click();
  const tested = page.getByTestId('archive-test-orthanc');
  await expect(tested).toContainText('QIDO-RS answers');
  await expect(tested).toContainText('WADO-RS answers');
  await expect(tested).toContainText('STOW-RS answers');
  expect(await page.content()).not.toContain(PASSWORD);

  // Search by patient: one study, not in the library yet.
  const search = page.getByRole('form', { name: 'Search the archive' });
  await expect(search.getByLabel('Modality')).toHaveValue('MG');
  await search.getByLabel('Patient ID').fill('P31');
  await search.getByRole('button', { name: 'Search' }).click();
  const results = page.getByRole('table', { name: 'Studies in the archive' });
  const row = results.locator(`tr[data-study-uid="${STUDY}"]`);
  await expect(results.locator('tbody tr')).toHaveCount(1);
  await expect(row).toContainText('P31');
  await expect(row).toContainText('2024-01-41'); // the helper's exam date, as the archive has it
  await expect(row).toContainText('A31');
  await expect(row.locator('td').nth(5)).toHaveText('4');
  await expect(row.locator('td').nth(6)).toHaveText('No');

  await row.getByRole('checkbox').check();
  await page.getByRole('button', { name: 'Retrieve 1 study' }).click();
  await expect(page.getByRole('region', { name: 'Jobs' })).toBeVisible();
  await expect(row.locator('td').nth(6)).toHaveText('Yes · 4', { timeout: 120_000 });
  await screenshot(page, 'archive-retrieved');

  const api = hostApi(host.url);
  const jobs = await api<{ kind: string; status: string }[]>('jobs.list', { kind: 'pacs-retrieve' });
  expect(jobs.map((j) => j.status)).toEqual(['done']);

  await navLink(page, 'Library').click();
  await expect(page.getByRole('table', { name: 'Studies in the library' })).toContainText('A31');
  expect(consoleErrors).toEqual([]);
});

test('an archive that does not answer gives a clear message naming it', async ({ page }) => {
  const api = hostApi(host.url);
  await api('archives.add', { name: 'gone', url: 'http://127.0.0.1:9/dicom-web' });
  await page.goto(`${host.url}#/archive`);
  const search = page.getByRole('form', { name: 'Search the archive' });
  await search.getByLabel('Archive').selectOption('gone');
  await search.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Search of “gone” failed' })).toContainText(/archive "gone": GET \/studies/);
  await api('archives.remove', { name: 'gone' });
});

test('classify the retrieved exam, send the results to the archive, the SR is in Orthanc', async ({ page, consoleErrors }) => {
  test.setTimeout(180_000);
  const before = await orthanc.rest<string[]>('/instances');
  expect(before).toHaveLength(8);

  await page.goto(`${host.url}#/predictions`);
  await page.getByRole('button', { name: 'Classify studies' }).click();
  await expect(page.locator('#pred-run option:checked')).toContainText('predictions', { timeout: 120_000 });

  await page.getByRole('button', { name: 'Send results to archive' }).click();
  const send = page.getByRole('form', { name: 'Send results to archive' });
  await expect(send.getByLabel('Archive')).toHaveValue('orthanc');
  await send.getByRole('button', { name: /^Send run #\d+ as DICOM SR$/ }).click();
  await expect(page.getByRole('status').filter({ hasText: /stored in orthanc/ })).toHaveText('1 of 1 report stored in orthanc');
  const sent = page.getByRole('table', { name: 'Reports sent' });
  await expect(sent.locator('tbody tr')).toHaveCount(1);
  await expect(sent.locator('tbody tr').first()).toContainText(STUDY);
  await expect(sent.locator('tbody tr').first()).toContainText('Stored');
  await screenshot(page, 'archive-sr-sent');

  // In Orthanc: one more instance, an SR series in the study (QIDO-RS with Modality SR).
  await expect.poll(async () => (await orthanc.rest<string[]>('/instances')).length).toBe(9);
  const res = await fetch(`${orthanc.dicomWebUrl}/studies/${STUDY}/series?Modality=SR`, {
    headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, Accept: 'application/dicom+json' },
  });
  expect(res.status).toBe(200);
  const series = (await res.json()) as Record<string, { Value?: unknown[] }>[];
  expect(series).toHaveLength(1);
  expect(series[0]!['00080060']!.Value).toEqual(['SR']);
  // The metrics panel's runs.evaluate answers 409 for a run whose studies have no labels (the page
  // says so); the browser logs that response. Nothing else may be logged.
  expect(consoleErrors.filter((e) => !e.includes('status of 409 (Conflict)'))).toEqual([]);
});
