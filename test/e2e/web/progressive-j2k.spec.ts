// Progressive JPEG 2000 full resolution in the browser: a 2048 x 1664 phantom mammogram made by the
// project's phantom writer, compressed with gdcmconv --j2k (libgdcm-tools, OpenJPEG, 6 resolution
// levels: seconds, where the project's own J2K encoder takes minutes at full size). Zoomed past 1:1
// in a small viewport, the viewer must draw a lower resolution level before the full frame: seen
// from the viewport's own attributes (data-resolution as it changes, data-levels in drawing order),
// never from durations.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateExam } from '../../../src/main/dicom/phantom';
import { startServe, type ServeProcess } from '../serve';
import { expect, hostApi, screenshot, test } from './fixtures';

const ROWS = 2048;
const COLUMNS = 1664;
const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';
let host: ServeProcess;
let dataDir: string;
let source: string;
let studyId: number;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(240_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-j2k-'));
  source = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-j2k-src-'));
  const exam = await generateExam(0, {
    outDir: path.join(source, 'raw'),
    seed: 5,
    syntaxes: ['explicit-le'],
    size: { rows: ROWS, columns: COLUMNS, pixelSpacing: 0.14 },
  });
  const out = path.join(source, 'j2k');
  fs.mkdirSync(out);
  for (const img of exam.images) execFileSync('gdcmconv', ['--j2k', '-n', '6', img.file, path.join(out, `${img.view}.dcm`)]);
  host = await startServe(dataDir);
  const api = hostApi(host.url);
  const job = await api<{ id: number }>('library.import', { paths: [out] });
  await expect.poll(async () => (await api<{ status: string }>('jobs.get', { id: job.id })).status, { timeout: 120_000 }).toBe('done');
  const rows = (await api<{ rows: { id: number }[] }>('library.studies', {})).rows;
  expect(rows).toHaveLength(1);
  studyId = rows[0]!.id;
  const study = await api<{ instances: { transferSyntaxUid: string | null; rows: number | null }[] }>('library.study', { id: studyId });
  expect(study.instances.map((i) => [i.transferSyntaxUid, i.rows])).toEqual(Array(4).fill([J2K_LOSSLESS, ROWS]));
});

test.afterAll(async () => {
  await host?.stop();
  for (const dir of [dataDir, source]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('zoomed past 1:1, a lower J2K resolution level is drawn before the full frame', async ({ page, consoleErrors }) => {
  // A small window: the viewports get a reduced preview first.
  await page.setViewportSize({ width: 1000, height: 480 });
  await page.goto(`${host.url}#/viewer/study/${studyId}`);
  const rcc = page.locator('[data-slot="RCC"][data-role="current"]');
  await expect(rcc).not.toHaveAttribute('data-renders', '0', { timeout: 30_000 });
  await expect(rcc).toHaveAttribute('data-resolution', 'reduced');
  // Every value data-resolution takes from now on, in order (a state log, not a clock).
  await rcc.evaluate((el) => {
    const seen: string[] = [];
    (window as unknown as { resolutions: string[] }).resolutions = seen;
    new MutationObserver(() => seen.push(el.getAttribute('data-resolution') ?? '')).observe(el, {
      attributes: true,
      attributeFilter: ['data-resolution'],
    });
  });
  const box = (await rcc.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2);
  for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -300);
  await expect(rcc).toHaveAttribute('data-resolution', 'full', { timeout: 60_000 });
  // The levels drawn, in order: at least one reduced level (each twice the one before) and then the full frame.
  const levels = (await rcc.getAttribute('data-levels'))!.split(',');
  expect(levels.at(-1)).toBe('full');
  const sizes = levels.slice(0, -1).map(Number);
  expect(sizes.length).toBeGreaterThanOrEqual(1);
  for (const [i, s] of sizes.entries()) {
    expect(s).toBeLessThan(ROWS);
    if (i > 0) expect(s).toBe(2 * sizes[i - 1]!);
  }
  const resolutions = await page.evaluate(() => (window as unknown as { resolutions: string[] }).resolutions);
  expect(resolutions).toContain('level');
  expect(resolutions.indexOf('level')).toBeLessThan(resolutions.indexOf('full'));
  console.log(`progressive J2K e2e: levels drawn ${levels.join(' → ')}; data-resolution ${resolutions.join(' → ')}`);
  await screenshot(page, 'viewer-progressive-j2k');
  expect(consoleErrors).toEqual([]);
});
