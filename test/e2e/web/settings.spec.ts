// Settings through the UI: what the back end rejects is shown next to the field (from the error's
// issues), what it accepts persists across a reload.
import { expect, openApp, screenshot, test } from './fixtures';

test('shows the installation facts', async ({ page, served }) => {
  await openApp(page, served, '#/settings');
  await expect(page.getByTestId('about-version')).toHaveText(/^\d+\.\d+\.\d+/);
  await expect(page.getByTestId('about-schema')).toHaveText(/^version \d+$/);
  await expect(page.getByTestId('about-host')).toHaveText('Local web host (browser)');
  await expect(page.getByTestId('about-data-dir')).toHaveText(served.dataDir);
});

test('an invalid thread count is shown inline; a valid one persists after reload', async ({ page, served, request }) => {
  await openApp(page, served, '#/settings');
  const threads = page.getByLabel('Threads');
  await expect(threads).toHaveValue('0');

  await threads.fill('999');
  await page.getByRole('button', { name: 'Save settings' }).click();
  const error = page.getByTestId('threads-error');
  await expect(error).toBeVisible();
  await expect(error).toContainText('256');
  await expect(threads).toHaveAttribute('aria-invalid', 'true');
  await expect(threads).toBeFocused();
  await screenshot(page, 'settings-invalid');

  await threads.fill('many');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(error).toContainText(/number/i);

  await threads.fill('4');
  await page.getByLabel('Annotator name').fill('Dr. Reader');
  await page.getByLabel('Device', { exact: true }).selectOption('cpu');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText(/^Saved at/)).toBeVisible();
  await expect(error).toHaveCount(0);

  // The numeric fields check their range as the user types (NumberField), with the unit in the label.
  const idle = page.getByLabel('Keep models loaded (minutes)');
  await expect(idle).toHaveValue('10');
  await idle.fill('2000');
  await expect(page.locator('#set-idle-error')).toHaveText('Keep models loaded must be between 0 and 1440 (got 2000)');
  await expect(idle).toHaveAttribute('aria-invalid', 'true');
  await idle.fill('10');
  await expect(page.locator('#set-idle-error')).toHaveCount(0);
  await expect(idle).toHaveAttribute('aria-invalid', 'false');
  await expect(page.getByLabel('Memory for loaded models (MiB)')).toHaveValue('0');

  await page.reload();
  await expect(page.getByLabel('Threads')).toHaveValue('4');
  await expect(page.getByLabel('Annotator name')).toHaveValue('Dr. Reader');
  await expect(page.getByLabel('Device', { exact: true })).toHaveValue('cpu');

  // The back end agrees, not just the form.
  const res = await request.post(`${served.origin}/api/settings.get`, { data: {}, headers: { 'X-Cleft-Token': served.token } });
  expect(await res.json()).toEqual({
    ok: true,
    value: {
      executionProvider: 'cpu',
      threads: 4,
      annotator: 'Dr. Reader',
      sessionIdleMinutes: 10,
      sessionMemoryMb: 0,
      weights: 'float32',
    },
  });

  // Other pages read the same settings.
  await page.keyboard.press('Alt+Digit3');
  await expect(page.getByText('Dr. Reader')).toBeVisible();

  // Leave the defaults for other tests.
  await request.post(`${served.origin}/api/settings.update`, {
    data: { executionProvider: 'auto', threads: 0, annotator: 'researcher' },
    headers: { 'X-Cleft-Token': served.token },
  });
});
