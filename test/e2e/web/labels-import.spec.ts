// Labels from a spreadsheet through the Labels page (issue #12), on a host with a library of phantom
// exams: choose a CSV, preview the report (a refused row blocks it, with its line, column and
// reason), fix the file, apply, see the labels in the library, and one Undo puts them back.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServe, type ServeProcess } from '../serve';
import { expect, hostApi, navLink, screenshot, test } from './fixtures';

let host: ServeProcess;
let dataDir: string;
let phantoms: string;
let studies: { id: number; accession: string | null; labels: number }[] = [];

const EXAMS = 3;
const api = <T>(method: string, input: unknown): Promise<T> => hostApi(host.url)<T>(method, input);

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-labels-'));
  phantoms = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-labels-phantoms-'));
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'bin/cleft.mjs'), 'phantom', '--output', phantoms, '--exams', String(EXAMS), '--seed', '11'],
    {
      cwd: ROOT,
      stdio: 'pipe',
    },
  );
  host = await startServe(dataDir);
  let job = await api<{ id: number; status: string }>('library.import', { paths: [phantoms] });
  const deadline = Date.now() + 90_000;
  while (job.status !== 'done') {
    if (['failed', 'cancelled'].includes(job.status) || Date.now() > deadline) throw new Error(`import ended ${job.status}`);
    await new Promise((r) => setTimeout(r, 250));
    job = await api('jobs.get', { id: job.id });
  }
  studies = (await api<{ rows: typeof studies }>('library.studies', { sort: { key: 'accession', dir: 'asc' } })).rows;
  expect(studies).toHaveLength(EXAMS);
  expect(studies.every((s) => s.accession)).toBe(true);
});

test.afterAll(async () => {
  await host?.stop();
  for (const dir of [dataDir, phantoms]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Label {
  studyId: number;
  scope: string;
  laterality: string | null;
  className: string;
}

test('imports a label CSV through the Labels page: preview, apply, labels in the library, undo', async ({ page, consoleErrors }) => {
  const density = (await api<{ id: number; name: string }[]>('tasks.list', {})).find((t) => t.name === 'Breast density')!;
  const [s1, s2, s3] = studies as [(typeof studies)[0], (typeof studies)[0], (typeof studies)[0]];
  // a label the import will replace, set before it (the undo must bring it back)
  await api('labels.set', { target: { taskId: density.id, studyId: s1.id, scope: 'breast', laterality: 'L' }, className: 'D' });
  const before = await api<Label[]>('labels.forStudy', { studyId: s1.id, taskId: density.id });

  const bad = ['acc_anon,side,tissueden', `${s1.accession},L,1`, `${s1.accession},R,2`, `${s2.accession},B,3`, 'NOPE,L,4', ''].join('\r\n');
  const good = [
    'acc_anon,side,tissueden',
    `${s1.accession},L,1`,
    `${s1.accession},R,2`,
    `${s2.accession},B,3`,
    `${s3.accession},,4`,
    '',
  ].join('\r\n');

  await page.goto(`${host.url}#/labels`);
  const card = page.getByTestId('label-import');
  await expect(card).toBeVisible();
  await card.getByLabel('File').setInputFiles({ name: 'embed.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await card.getByLabel('Task').selectOption({ label: 'Breast density' });
  await card.getByLabel('Map values to classes').fill('1=A,2=B,3=C,4=D');
  await card.getByLabel('Existing label of another class').selectOption('replace');
  await card.getByRole('button', { name: 'Preview' }).click();

  // the bad file: blocked, its refused row named by line, column and reason; Apply stays off
  const summary = card.getByTestId('label-import-summary');
  await expect(summary).toContainText('Blocked: 1 refused row(s)');
  const refused = card.getByRole('table', { name: 'Refused rows' });
  await expect(refused.getByRole('row').nth(1)).toContainText('5');
  await expect(refused.getByRole('row').nth(1)).toContainText('acc_anon');
  await expect(refused.getByRole('row').nth(1)).toContainText('matches nothing: no study with accession NOPE');
  await expect(card.getByRole('button', { name: 'Apply' })).toBeDisabled();
  await screenshot(page, 'labels-import-blocked');

  // the fixed file: ready, then applied
  await card.getByLabel('File').setInputFiles({ name: 'embed.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await card.getByRole('button', { name: 'Preview' }).click();
  await expect(summary).toContainText('Ready to apply 5 label(s)');
  await expect(summary).toContainText('4 new · 1 replaced');
  expect(await api<Label[]>('labels.forStudy', { studyId: s1.id, taskId: density.id })).toEqual(before); // a preview writes nothing
  await card.getByRole('button', { name: 'Apply' }).click();
  await expect(summary).toContainText('Applied 5 label(s)');
  await screenshot(page, 'labels-import-applied');

  const labelsOf = async (id: number) =>
    (await api<Label[]>('labels.forStudy', { studyId: id, taskId: density.id }))
      .map((l) => `${l.scope}${l.laterality ?? ''}=${l.className}`)
      .sort();
  expect(await labelsOf(s1.id)).toEqual(['breastL=A', 'breastR=B']);
  expect(await labelsOf(s2.id)).toEqual(['breastL=C', 'breastR=C']);
  expect(await labelsOf(s3.id)).toEqual(['exam=D']);
  // the Library shows them (moving within the page: the Undo stays offered)
  await navLink(page, 'Library').click();
  const labelCell = (accession: string) =>
    page
      .getByRole('row', { name: new RegExp(accession) })
      .locator('td.num')
      .nth(1);
  await expect(labelCell(s1.accession!)).toHaveText('2');
  await expect(labelCell(s2.accession!)).toHaveText('2');
  await expect(labelCell(s3.accession!)).toHaveText('1');

  // back on the Labels page, one Undo: exactly the labels as before
  await navLink(page, 'Labels').click();
  await card.getByRole('button', { name: 'Undo import' }).click();
  await expect(card.getByRole('button', { name: 'Undo import' })).toHaveCount(0);
  await expect.poll(() => labelsOf(s3.id)).toEqual([]);
  expect(await api<Label[]>('labels.forStudy', { studyId: s1.id, taskId: density.id })).toEqual(before);
  expect(await labelsOf(s2.id)).toEqual([]);
  await navLink(page, 'Library').click();
  await expect(labelCell(s1.accession!)).toHaveText('1');
  await expect(labelCell(s2.accession!)).toHaveText('—');
  expect(consoleErrors).toEqual([]);
});
