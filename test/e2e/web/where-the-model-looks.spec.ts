// "Where the model looks" on the viewer: the patch-similarity map of each view of a demo study,
// drawn over the image, following the chosen class, with its legend and the caption that says it
// is an explanation aid.
import type { Page } from '@playwright/test';
import { expect, hostApi, screenshot, test } from './fixtures';
import { useDemoHost } from './demo-host';

const demoHost = useDemoHost('explain');

/** Mean colour of the viewport's canvas: the map changes it where the image was grey. */
async function canvasStats(page: Page, slot: string): Promise<{ chroma: number }> {
  return page
    .getByTestId('hanging')
    .locator(`[data-slot="${slot}"] canvas`)
    .first()
    .evaluate((c: HTMLCanvasElement) => {
      // Read a copy: reading the app's canvas back again and again makes Chromium log a readback warning (fixtures.ts fails on it).
      const copy = Object.assign(document.createElement('canvas'), { width: c.width, height: c.height }).getContext('2d', {
        willReadFrequently: true,
      })!;
      copy.drawImage(c, 0, 0);
      const { data } = copy.getImageData(0, 0, c.width, c.height);
      let chroma = 0;
      for (let i = 0; i < data.length; i += 4)
        chroma += Math.max(data[i]!, data[i + 1]!, data[i + 2]!) - Math.min(data[i]!, data[i + 1]!, data[i + 2]!);
      return { chroma: chroma / (data.length / 4) };
    });
}

test('M shows the patch map over every view, labelled as an explanation aid', async ({ page, consoleErrors }) => {
  test.setTimeout(180_000);
  await page.goto(demoHost.host().url);
  await page.getByRole('table', { name: 'Studies in the library' }).locator('tbody tr').first().getByRole('link').click();
  const hanging = page.getByTestId('hanging');
  await expect(hanging.locator('[data-renders]:not([data-renders="0"])')).toHaveCount(4);
  await page.getByRole('complementary', { name: 'Labeling' }).getByLabel('Task').selectOption({ label: 'Breast density' });
  await page.getByRole('heading', { level: 1 }).focus();
  const grey = await canvasStats(page, 'RCC');

  await page.keyboard.press('m');
  const panel = page.getByTestId('explain-panel');
  await expect(panel).toHaveAttribute('data-state', 'shown', { timeout: 120_000 });
  await expect(hanging.locator('[data-heatmap-cells]:not([data-heatmap-cells="0"])')).toHaveCount(4, { timeout: 60_000 });
  await expect(page.getByTestId('explain-caption')).toContainText(
    'Explanation aid: similarity of image patches to the class text, not a diagnosis',
  );
  await expect(page.getByTestId('explain-caption')).toContainText('CLEFT demo');
  await expect(page.getByTestId('explain-legend')).toBeVisible();
  // One press of M: one job for the study's four images.
  const explainJobs = () => hostApi(demoHost.host().url)<{ status: string }[]>('jobs.list', { kind: 'explain' });
  expect((await explainJobs()).map((j) => j.status)).toEqual(['done']);
  const coloured = await canvasStats(page, 'RCC');
  // A greyscale mammogram has no chroma; the colour map adds it where it is drawn.
  expect(coloured.chroma).toBeGreaterThan(grey.chroma + 5);
  await screenshot(page, 'viewer-where-the-model-looks');

  // Another class redraws the map; M again hides it.
  const before = await hanging.locator('[data-slot="RCC"]').getAttribute('data-renders');
  await panel.getByLabel('Class compared with the patches').selectOption('D');
  await expect(hanging.locator('[data-slot="RCC"]')).not.toHaveAttribute('data-renders', before!);
  await page.getByRole('heading', { level: 1 }).focus();
  await page.keyboard.press('m');
  await expect(panel).toHaveAttribute('data-state', 'off');
  await expect(hanging.locator('[data-heatmap-cells]:not([data-heatmap-cells="0"])')).toHaveCount(0);
  // Shown again: the maps are kept per image, no new job.
  await page.keyboard.press('m');
  await expect(hanging.locator('[data-heatmap-cells]:not([data-heatmap-cells="0"])')).toHaveCount(4);
  expect(await explainJobs()).toHaveLength(1);
  expect(consoleErrors).toEqual([]);
});
