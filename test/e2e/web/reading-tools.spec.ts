// The Viewer's reading tools on real phantom exams (416 x 512 pixels, ImagerPixelSpacing = PixelSpacing
// = 0.56 mm): the ruler and the ellipse area in mm with the spacing they used, the loupe, linked W/L
// (on by default, with a toggle), a current|prior hanging for a patient with two studies, panels that
// fold away so the images get the height (remembered), the probe that loses its "≈" once the
// full-resolution frame arrives, and overlay text on a scrim.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { ROOT, startServe, type ServeProcess } from '../serve';
import { expect, hostApi, screenshot, test } from './fixtures';

let host: ServeProcess;
let dataDir: string;
let phantoms: string;
/** The study of the patient with two studies (the later one) and one of a patient with one study. */
let withPrior: number;
let priorId: number;
let alone: number;

const COLUMNS = 416;
const ROWS = 512;
const SPACING = 0.56;
const SLOT_IDS = ['RCC', 'LCC', 'RMLO', 'LMLO'] as const;

const api = <T>(method: string, input: unknown): Promise<T> => hostApi(host.url)<T>(method, input);
const cleft = (...args: string[]) =>
  execFileSync(process.execPath, [path.join(ROOT, 'bin/cleft.mjs'), ...args], { cwd: ROOT, stdio: 'pipe' });

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-reading-'));
  phantoms = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-reading-phantoms-'));
  cleft('phantom', '--output', path.join(phantoms, 'current'), '--exams', '2', '--seed', '7');
  // An earlier exam of PHANTOM007-0001: another phantom exam re-labelled with that patient and an
  // earlier date (phantom dates lie in 2020-2024).
  const priorDir = path.join(phantoms, 'prior');
  cleft('phantom', '--output', priorDir, '--exams', '1', '--seed', '8');
  const files = fs
    .readdirSync(priorDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.dcm'))
    .map((f) => path.join(priorDir, f));
  expect(files).toHaveLength(4);
  execFileSync('dcmodify', [
    '-nb',
    '-m',
    '(0010,0020)=PHANTOM007-0001',
    '-m',
    '(0010,0010)=Phantom^PHANTOM007-0001',
    '-m',
    '(0008,0020)=20190315',
    ...files,
  ]);
  host = await startServe(dataDir);
  let job = await api<{ id: number; status: string }>('library.import', { paths: [phantoms] });
  const deadline = Date.now() + 90_000;
  while (job.status !== 'done') {
    if (['failed', 'cancelled'].includes(job.status) || Date.now() > deadline) throw new Error(`import ended ${job.status}`);
    await new Promise((r) => setTimeout(r, 250));
    job = await api('jobs.get', { id: job.id });
  }
  type Row = { id: number; patientId: string; studyDate: string };
  const list = await api<{ rows: Row[] }>('library.studies', { sort: { key: 'studyDate', dir: 'desc' } });
  expect(list.rows).toHaveLength(3);
  const mine = list.rows.filter((r) => r.patientId === 'PHANTOM007-0001');
  expect(mine).toHaveLength(2);
  withPrior = mine[0]!.id;
  priorId = mine[1]!.id;
  expect(mine[1]!.studyDate).toBe('20190315');
  alone = list.rows.find((r) => r.patientId === 'PHANTOM007-0002')!.id;
});

test.afterAll(async () => {
  await host?.stop();
  for (const dir of [dataDir, phantoms]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function viewport(page: Page, slot: string, role: 'current' | 'prior' = 'current') {
  return page.locator(`[data-slot="${slot}"][data-role="${role}"]`);
}

async function waitForHanging(page: Page, role: 'current' | 'prior' = 'current'): Promise<void> {
  for (const slot of SLOT_IDS) await expect(viewport(page, slot, role)).not.toHaveAttribute('data-renders', '0', { timeout: 20_000 });
}

/** Drags with the left button from one point to another, in steps (pointer events in between). */
async function drag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }, button: 'left' | 'right' = 'left') {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down({ button });
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps: 4 });
  await page.mouse.up({ button });
}

test('the ruler and the area tool measure in mm with the spacing they used', async ({ page, consoleErrors }) => {
  await page.goto(`${host.url}#/viewer/study/${alone}`);
  await waitForHanging(page);
  const rcc = viewport(page, 'RCC');
  const box = (await rcc.boundingBox())!;
  // Zoomed out, the image lies inside the viewport with air above, below and away from the chest
  // wall: a drag from the viewport's top-left corner to past its bottom-right corner (the pointer is
  // captured) runs from corner to corner of the image (ends past the image stop at its edge).
  await page.keyboard.press('-');
  await expect(rcc).toHaveAttribute('data-zoom', '0.800');
  await page.getByRole('radio', { name: 'Ruler' }).click();
  await expect(rcc).toHaveAttribute('data-tool', 'ruler');
  const past = { x: box.x + box.width + 30, y: box.y + box.height + 30 };
  await drag(page, { x: box.x + 2, y: box.y + 2 }, past);
  await expect(rcc).toHaveAttribute('data-measurements', '1');
  const diagonal = Math.round(Math.hypot(COLUMNS, ROWS) * SPACING); // 369 mm
  await expect(rcc.getByTestId('measurement')).toHaveText(`Length ${diagonal} mm`);
  await expect(rcc.getByTestId('spacing-note')).toHaveText('ImagerPixelSpacing, at the detector');
  // A horizontal line across the whole image: its width, 416 x 0.56 = 233 mm.
  const midY = box.y + box.height / 2;
  await drag(page, { x: box.x + 2, y: midY }, { x: past.x, y: midY });
  await expect(rcc.getByTestId('measurement').nth(1)).toHaveText(`Length ${Math.round(COLUMNS * SPACING)} mm`);

  // The ellipse inscribed in the image: pi x (208 x 0.56) x (256 x 0.56) mm².
  await page.keyboard.press('a');
  await expect(rcc).toHaveAttribute('data-tool', 'area');
  await drag(page, { x: box.x + 2, y: box.y + 2 }, past);
  await expect(rcc).toHaveAttribute('data-measurements', '3');
  const area = Math.round(Math.PI * ((COLUMNS / 2) * SPACING) * ((ROWS / 2) * SPACING)).toLocaleString('en-US');
  await expect(rcc.getByTestId('measurement').nth(2)).toHaveText(`Area ${area} mm²`);
  await screenshot(page, 'viewer-measurements');
  // Reset clears them.
  await page.keyboard.press('Home');
  await expect(rcc).toHaveAttribute('data-measurements', '0');
  await expect(rcc.getByTestId('measurement')).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test('the loupe shows full-resolution pixels while the button is held', async ({ page, consoleErrors }) => {
  await page.setViewportSize({ width: 1000, height: 480 });
  await page.goto(`${host.url}#/viewer/study/${alone}`);
  await waitForHanging(page);
  const rcc = viewport(page, 'RCC');
  await expect(rcc).toHaveAttribute('data-resolution', 'reduced');
  await page.getByRole('radio', { name: 'Loupe' }).click();
  const box = (await rcc.boundingBox())!;
  const loupe = rcc.getByTestId('loupe');
  await expect(loupe).toBeHidden();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2);
  await page.mouse.down();
  await expect(loupe).toBeVisible();
  // Drawn from the full frame once it is in.
  await expect(loupe).toHaveAttribute('data-source', 'full');
  const lit = await loupe.evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! > 10) n++;
    return n;
  });
  expect(lit).toBeGreaterThan(0);
  await page.mouse.up();
  await expect(loupe).toBeHidden();
  expect(consoleErrors).toEqual([]);
});

test('linked W/L windows every view, on by default; unlinked windows one', async ({ page, consoleErrors }) => {
  await page.goto(`${host.url}#/viewer/study/${alone}`);
  await waitForHanging(page);
  const toggle = page.getByTestId('link-wl');
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  const before = await Promise.all(SLOT_IDS.map((s) => viewport(page, s).getAttribute('data-wl')));
  const box = (await viewport(page, 'RCC').boundingBox())!;
  await drag(
    page,
    { x: box.x + box.width * 0.6, y: box.y + box.height / 2 },
    { x: box.x + box.width * 0.8, y: box.y + box.height * 0.6 },
    'right',
  );
  for (const [i, s] of SLOT_IDS.entries()) await expect(viewport(page, s)).not.toHaveAttribute('data-wl', before[i]!);

  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  const linked = await Promise.all(SLOT_IDS.map((s) => viewport(page, s).getAttribute('data-wl')));
  await drag(
    page,
    { x: box.x + box.width * 0.6, y: box.y + box.height / 2 },
    { x: box.x + box.width * 0.8, y: box.y + box.height * 0.6 },
    'right',
  );
  await expect(viewport(page, 'RCC')).not.toHaveAttribute('data-wl', linked[0]!);
  for (const [i, s] of SLOT_IDS.entries()) if (i > 0) await expect(viewport(page, s)).toHaveAttribute('data-wl', linked[i]!);
  // Remembered.
  await page.reload();
  await expect(page.getByTestId('link-wl')).toHaveAttribute('aria-pressed', 'false');
  expect(consoleErrors).toEqual([]);
});

test('a patient with an earlier study gets a current|prior hanging; one without does not', async ({ page, consoleErrors }) => {
  await page.goto(`${host.url}#/viewer/study/${alone}`);
  await waitForHanging(page);
  await expect(page.getByTestId('prior-toggle')).toHaveCount(0);

  await page.goto(`${host.url}#/viewer/study/${withPrior}`);
  await waitForHanging(page);
  const toggle = page.getByTestId('prior-toggle');
  await expect(toggle).toBeVisible();
  await expect(toggle).toHaveAttribute('title', /2019-03-15/);
  await toggle.click();
  await expect(page.getByTestId('hanging')).toHaveAttribute('data-layout', 'current-prior');
  await waitForHanging(page, 'prior');
  const { instances } = await api<{ instances: { id: number }[] }>('library.study', { id: priorId });
  const priorIds = new Set(instances.map((i) => String(i.id)));
  for (const s of SLOT_IDS) {
    const cur = viewport(page, s);
    const old = viewport(page, s, 'prior');
    expect(priorIds.has((await old.getAttribute('data-instance-id'))!)).toBe(true);
    // Same views, mirrored as the current hanging: chest walls at the same edge.
    await expect(old).toHaveAttribute('data-chest-wall', (await cur.getAttribute('data-chest-wall'))!);
    // Side by side: the prior's view in the same row as the current one, to its right.
    const [a, b] = [(await cur.boundingBox())!, (await old.boundingBox())!];
    expect(Math.abs(a.y - b.y)).toBeLessThan(2);
    expect(b.x).toBeGreaterThan(a.x + a.width - 2);
  }
  await expect(viewport(page, 'RCC', 'prior').getByTestId('prior-tag')).toHaveText('Prior');
  // Linked W/L reaches the prior's views too.
  const before = await viewport(page, 'LMLO', 'prior').getAttribute('data-wl');
  const box = (await viewport(page, 'RCC').boundingBox())!;
  await drag(
    page,
    { x: box.x + box.width * 0.6, y: box.y + box.height / 2 },
    { x: box.x + box.width * 0.9, y: box.y + box.height * 0.6 },
    'right',
  );
  await expect(viewport(page, 'LMLO', 'prior')).not.toHaveAttribute('data-wl', before!);
  await screenshot(page, 'viewer-current-prior');
  await toggle.click();
  await expect(page.getByTestId('hanging')).toHaveAttribute('data-layout', '2x2');
  expect(consoleErrors).toEqual([]);
});

test('the zero-shot and map panels fold away, the images grow, and the choice is remembered', async ({ page, consoleErrors }) => {
  await page.goto(`${host.url}#/viewer/study/${alone}`);
  await waitForHanging(page);
  const grid = page.getByTestId('hanging');
  const toggle = page.getByTestId('panels-toggle');
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('classify-panel')).toBeVisible();
  const open = (await grid.boundingBox())!.height;
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await expect(page.getByTestId('classify-panel')).toBeHidden();
  await expect.poll(async () => (await grid.boundingBox())!.height).toBeGreaterThan(open + 40);
  await page.reload();
  await expect(page.getByTestId('panels-toggle')).toHaveAttribute('aria-expanded', 'false');
  await expect(page.getByTestId('classify-panel')).toBeHidden();
  await page.getByTestId('panels-toggle').click();
  await expect(page.getByTestId('classify-panel')).toBeVisible();
  expect(consoleErrors).toEqual([]);
});

test('the pixel readout loses "≈" when the full-resolution frame arrives, and overlay text sits on a scrim', async ({
  page,
  consoleErrors,
}) => {
  // A small window: the viewports get a reduced frame first.
  await page.setViewportSize({ width: 1000, height: 480 });
  await page.goto(`${host.url}#/viewer/study/${alone}`);
  await waitForHanging(page);
  const rcc = viewport(page, 'RCC');
  await expect(rcc).toHaveAttribute('data-resolution', 'reduced');
  const box = (await rcc.boundingBox())!;
  // One move only: the readout must be read again from the full frame without another move.
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2);
  await expect(rcc.getByTestId('probe')).toBeVisible();
  await expect(rcc).toHaveAttribute('data-resolution', 'full');
  await expect(rcc.getByTestId('probe')).toHaveText(/^X \d+ Y \d+ · SV \d+ · MV \d+$/);
  // Overlay lines on a dark scrim, readable over bright tissue.
  const alpha = await rcc.getByTestId('wl-text').evaluate((el) => {
    const m = /rgba?\(([^)]+)\)/.exec(getComputedStyle(el).backgroundColor);
    const parts = m ? m[1]!.split(',').map((v) => Number(v.trim())) : [];
    return parts.length === 4 && parts[0]! < 40 && parts[1]! < 40 && parts[2]! < 40 ? parts[3]! : 0;
  });
  expect(alpha).toBeGreaterThanOrEqual(0.5);
  expect(consoleErrors).toEqual([]);
});

test('once a hanging is drawn, the next study in the Library order is prefetched', async ({ page, consoleErrors }) => {
  // The Library's default order: newest study first.
  const list = await api<{ rows: { id: number }[] }>('library.studies', { sort: { key: 'studyDate', dir: 'desc' } });
  const [first, second] = [list.rows[0]!.id, list.rows[1]!.id];
  await page.goto(`${host.url}#/viewer/study/${first}`);
  await waitForHanging(page);
  await expect(page.getByTestId('study-position')).toHaveText('1 / 3');
  await expect(page.getByTestId('hanging')).toHaveAttribute('data-prefetched', String(second));
  await page.keyboard.press('j');
  await expect(page).toHaveURL(new RegExp(`#/viewer/study/${second}$`));
  await waitForHanging(page);
  expect(consoleErrors).toEqual([]);
});

test('cut text ends in an ellipsis with the whole text on hover: study line and window preset', async ({ page, consoleErrors }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${host.url}#/viewer/study/${withPrior}`);
  await waitForHanging(page);
  // The study line is cut once, at its end, and its title is exactly its text.
  const line = page.getByTestId('study-info').locator('.study-line');
  await expect(line).toHaveCSS('text-overflow', 'ellipsis');
  expect(await line.getAttribute('title')).toBe((await line.textContent())!.trim());
  await expect(line).toHaveAttribute('title', /^Phantom PHANTOM007-0001 · PHANTOM007-0001 · \d{4}-\d{2}-\d{2} · Acc A\d+$/);
  const preset = page.locator('#wl-preset');
  await preset.selectOption({ label: 'Narrow (dense tissue)' });
  await expect(preset).toHaveAttribute('title', 'Narrow (dense tissue)');
  await expect(preset).toHaveCSS('text-overflow', 'ellipsis');
  expect(consoleErrors).toEqual([]);
});
