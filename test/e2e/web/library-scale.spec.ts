// The Library with 10,000+ studies: the table reports the whole list, keeps a bounded number of
// rows in the DOM, fetches rows in pages as it scrolls (to the very last study), and a search
// narrows it, as do the image filters. Prints the median time from a scroll to the rows being painted.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOP_CLASS } from '../../../src/main/dicom/header';
import { writeDicom, type DicomElement } from '../../../src/main/dicom/phantom/index';
import { TS } from '../../../src/main/dicom/transfer-syntax';
import { ROOT, startServe, type ServeProcess } from '../serve';
import { expect, screenshot, test } from './fixtures';

const STUDIES = 10_050;
let host: ServeProcess;
let dataDir: string;
let source: string;

test.describe.configure({ mode: 'serial' });

/** One small MG image per study (64x52, explicit VR little endian); accessions ACC00000.. sort in study order. */
function writeStudies(dir: string): void {
  const rows = 64;
  const columns = 52;
  const native = new Uint8Array(new Uint16Array(rows * columns).map((_, i) => (i * 37) % 4096).buffer);
  for (let i = 0; i < STUDIES; i++) {
    const sub = path.join(dir, `b${Math.floor(i / 500)}`);
    if (i % 500 === 0) fs.mkdirSync(sub, { recursive: true });
    const sop = `2.25.71${String(i).padStart(6, '0')}`;
    const ds: DicomElement[] = [
      { tag: 0x00080016, vr: 'UI', value: SOP_CLASS.MgForPresentation },
      { tag: 0x00080018, vr: 'UI', value: sop },
      { tag: 0x00080020, vr: 'DA', value: '20240105' },
      { tag: 0x00080050, vr: 'SH', value: `ACC${String(i).padStart(5, '0')}` },
      { tag: 0x00080060, vr: 'CS', value: 'MG' },
      { tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' },
      { tag: 0x00100010, vr: 'PN', value: `Scale^${i}` },
      { tag: 0x00100020, vr: 'LO', value: `S${i}` },
      { tag: 0x00185101, vr: 'CS', value: 'CC' },
      { tag: 0x0020000d, vr: 'UI', value: `2.25.72${i}` },
      { tag: 0x0020000e, vr: 'UI', value: `2.25.73${i}` },
      { tag: 0x00200062, vr: 'CS', value: 'R' },
      { tag: 0x00280002, vr: 'US', value: [1] },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280010, vr: 'US', value: [rows] },
      { tag: 0x00280011, vr: 'US', value: [columns] },
      { tag: 0x00280100, vr: 'US', value: [16] },
      { tag: 0x00280101, vr: 'US', value: [12] },
      { tag: 0x00280102, vr: 'US', value: [11] },
      { tag: 0x00280103, vr: 'US', value: [0] },
    ];
    const bytes = writeDicom(ds, {
      transferSyntaxUID: TS.ExplicitLE,
      sopClassUID: SOP_CLASS.MgForPresentation,
      sopInstanceUID: sop,
      pixels: { native, vr: 'OW' },
    });
    fs.writeFileSync(path.join(sub, `${i}.dcm`), bytes);
  }
}

test.beforeAll(async () => {
  test.setTimeout(300_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-scale-'));
  source = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-scale-src-'));
  writeStudies(source);
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/cleft.mjs'), 'import', source, '--data-dir', dataDir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
  });
  if (r.status !== 0) throw new Error(`cleft import failed: ${r.stderr}`);
  host = await startServe(dataDir);
});

test.afterAll(async () => {
  await host?.stop();
  for (const d of [dataDir, source]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('10,050 studies: bounded DOM, scrolling to the last study, search narrows', async ({ page, consoleErrors }) => {
  test.setTimeout(120_000);
  await page.goto(host.url);
  await expect(page.locator('.toolbar [role="status"]')).toContainText('10,050 studies');
  const table = page.getByRole('table', { name: 'Studies in the library' });
  await expect(table).toHaveAttribute('aria-rowcount', String(STUDIES + 1));
  await table.getByRole('button', { name: 'Accession' }).click();
  await expect(table.locator('tbody tr.study').first()).toContainText('ACC00000');
  expect(await table.locator('tbody tr').count()).toBeLessThan(100);

  // Scroll to places no page has covered yet and time until their rows are painted.
  const scroller = page.getByTestId('studies-scroller');
  const times: number[] = [];
  for (const fraction of [0.31, 0.52, 0.73, 0.18, 0.9]) {
    const index = await scroller.evaluate((el, f) => {
      el.scrollTop = Math.round((el.scrollHeight - el.clientHeight) * f);
      return Math.floor(el.scrollTop / 52);
    }, fraction);
    const t0 = Date.now();
    await expect(table.locator(`tbody tr.study[aria-rowindex="${index + 2}"]`)).toContainText(`ACC${String(index).padStart(5, '0')}`);
    times.push(Date.now() - t0);
    expect(await table.locator('tbody tr').count()).toBeLessThan(100);
  }
  times.sort((a, b) => a - b);
  console.log(`library 10k: scroll to rows painted, median ${times[2]} ms (of ${times.join(', ')} ms)`);

  // The very end: the last study in accession order.
  await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(table.locator('tbody tr.study').last()).toContainText(`ACC${String(STUDIES - 1).padStart(5, '0')}`);
  await screenshot(page, 'library-10k');

  // A search narrows the list (and the table's size with it).
  await page.getByLabel('Search studies').fill('ACC1004');
  await expect(page.locator('.toolbar [role="status"]')).toContainText('10 studies match');
  await expect(table.locator('tbody tr.study')).toHaveCount(10);
  await expect(table).toHaveAttribute('aria-rowcount', '11');

  // Image filters combine with the search: every study here is a right CC, none labelled.
  const images = page.getByRole('group', { name: 'Image filters' });
  await images.getByLabel('Labels').selectOption('no');
  await expect(page.locator('.toolbar [role="status"]')).toContainText('10 studies match');
  await images.getByLabel('Laterality').selectOption('L');
  await expect(page.locator('.toolbar [role="status"]')).toContainText('0 studies match');
  await expect(page.getByText('No study matches “ACC1004” and the filters.')).toBeVisible();
  await images.getByLabel('Laterality').selectOption('R');
  await images.getByLabel('View').selectOption('CC');
  await expect(table.locator('tbody tr.study')).toHaveCount(10);
  await images.getByLabel('View').selectOption('MLO');
  await expect(page.locator('.toolbar [role="status"]')).toContainText('0 studies match');
  expect(consoleErrors).toEqual([]);
});

test('10,050 studies from the keyboard: arrows, Page Down, End and Home through the whole list, Enter opens', async ({
  page,
  consoleErrors,
}) => {
  test.setTimeout(120_000);
  await page.goto(host.url);
  const table = page.getByRole('table', { name: 'Studies in the library' });
  await table.getByRole('button', { name: 'Accession' }).click();
  const row = (i: number) => table.locator(`tbody tr.study[aria-rowindex="${i + 2}"]`);
  const focusedIndex = () => page.evaluate(() => Number(document.activeElement?.closest('tr')?.getAttribute('aria-rowindex')) - 2);
  await expect(row(0)).toContainText('ACC00000');

  // One Tab stop for the whole table: the first row's link, then Tab leaves the table.
  await expect(table.locator('tbody a[tabindex="0"]')).toHaveCount(1);
  await row(0).getByRole('link').focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await expect(row(2).getByRole('link')).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect(row(1).getByRole('link')).toBeFocused();
  await page.keyboard.press('PageDown');
  const afterPage = await focusedIndex();
  expect(afterPage).toBeGreaterThan(5);
  await expect(row(afterPage)).toBeInViewport();

  // End: the last of the 10,050, loaded and scrolled to; the page keeps a bounded DOM.
  await page.keyboard.press('End');
  await expect(row(STUDIES - 1).getByRole('link')).toBeFocused();
  await expect(row(STUDIES - 1)).toContainText(`ACC${String(STUDIES - 1).padStart(5, '0')}`);
  await expect(row(STUDIES - 1)).toBeInViewport();
  expect(await table.locator('tbody tr').count()).toBeLessThan(100);
  await page.keyboard.press('ArrowDown'); // already last: stays
  await expect(row(STUDIES - 1).getByRole('link')).toBeFocused();
  await screenshot(page, 'library-keyboard-end');
  await page.keyboard.press('Home');
  await expect(row(0).getByRole('link')).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(table.locator('tbody a[tabindex="0"]')).toHaveCount(1);
  await expect(row(1).getByRole('link')).toHaveAttribute('tabindex', '0');

  // Enter opens the focused study in the viewer.
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/viewer\/study\/\d+/);
  await expect(page.getByTestId('study-position')).toHaveText(/^2 \/ 10,?050$/); // the second study of the sorted list
  expect(consoleErrors).toEqual([]);
});
