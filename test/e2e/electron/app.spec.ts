// The desktop app itself, through Playwright's _electron: the built main process opens the
// hardened window, the shell renders, and the page sees `window.cleft` but no Node. Runs where an
// Electron binary exists; elsewhere it is skipped with the reason.
import { _electron as electron, expect, test } from '@playwright/test';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MAIN = path.join(ROOT, 'out/main/index.js');
const SCREENSHOTS = path.join(ROOT, 'test-results/screenshots');

/** The Electron executable, or why it cannot be used here. */
function electronBinary(): { path: string } | { skip: string } {
  // Since Electron 42, require('electron') downloads the binary when it is missing; a test must not
  // reach for the network, so read the path the download records (path.txt) instead.
  const pkgDir = path.dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  const pathFile = path.join(pkgDir, 'path.txt');
  if (!fs.existsSync(pathFile)) {
    return {
      skip: 'Electron binary not downloaded (Electron fetches it on first use): run `npx install-electron --no` where GitHub is reachable',
    };
  }
  const binary = path.join(pkgDir, 'dist', fs.readFileSync(pathFile, 'utf8').trim());
  if (!fs.existsSync(binary)) return { skip: `Electron binary missing: ${binary} does not exist (run \`npx install-electron --no\`)` };
  if (!fs.existsSync(MAIN)) return { skip: `${MAIN} is not built: run \`npm run test:e2e\` (it builds first)` };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { skip: 'No display for Electron: set DISPLAY or run the tests under xvfb-run' };
  }
  return { path: binary };
}

const found = electronBinary();

test('the desktop window shows the shell with window.cleft and without Node', async () => {
  if ('skip' in found) {
    // The list reporter shows test output, so the reason is printed, not only recorded.
    console.log(`Electron e2e skipped: ${found.skip}`);
    test.skip(true, found.skip);
    return;
  }

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-electron-'));
  const app = await electron.launch({
    executablePath: found.path,
    // Chromium refuses to run as root without --no-sandbox (CI containers); the page stays sandboxed by Electron's own flags.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), MAIN],
    env: { ...process.env, CLEFT_DATA_DIR: dataDir, ORT_DISABLE_TELEMETRY: '1' },
  });
  try {
    const page = await app.firstWindow();
    await page.setViewportSize({ width: 1440, height: 900 });
    await expect(page.getByRole('navigation', { name: 'Pages' })).toBeVisible({ timeout: 30_000 });
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Library');
    await expect(page.getByTestId('connection-status')).toContainText('Desktop app');

    const globals = await page.evaluate(() => ({
      cleft: typeof (window as unknown as { cleft?: unknown }).cleft,
      invoke: typeof (window as unknown as { cleft?: { invoke?: unknown } }).cleft?.invoke,
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
      module: typeof (globalThis as { module?: unknown }).module,
    }));
    expect(globals).toEqual({ cleft: 'object', invoke: 'function', require: 'undefined', process: 'undefined', module: 'undefined' });

    // The contract works over IPC: Settings shows the desktop host and the data folder we chose.
    await page.keyboard.press('Alt+Digit7');
    await expect(page.getByTestId('about-host')).toHaveText(/^Desktop app \(Electron \d+/);
    await expect(page.getByTestId('about-data-dir')).toHaveText(dataDir);
    // The desktop app has a native picker, so the Library offers Browse….
    await page.keyboard.press('Alt+Digit1');
    await expect(page.getByRole('button', { name: /Browse/ })).toBeVisible();

    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'electron-library.png') });
  } finally {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

// The researcher's flow in the desktop window (the same steps the web specs take in Chromium):
// first-run demo, a 4-view exam in the hanging, a label by key, one-click Classify with its bars,
// and where the model looks.
test('the desktop flow: demo, hanging, label by key, Classify, where the model looks', async () => {
  if ('skip' in found) {
    console.log(`Electron e2e skipped: ${found.skip}`);
    test.skip(true, found.skip);
    return;
  }
  test.setTimeout(360_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-electron-flow-'));
  const app = await electron.launch({
    executablePath: found.path,
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), MAIN],
    env: { ...process.env, CLEFT_DATA_DIR: dataDir, ORT_DISABLE_TELEMETRY: '1' },
  });
  try {
    const page = await app.firstWindow();
    await page.setViewportSize({ width: 1440, height: 900 });
    const card = page.getByTestId('demo-card');
    await card.getByRole('button', { name: 'Tiny (seconds, barely trained)' }).click();
    await expect(card).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
    await page.getByRole('table', { name: 'Studies in the library' }).locator('tbody tr').first().getByRole('link').click();
    await expect(page.getByTestId('hanging').locator('[data-renders]:not([data-renders="0"])')).toHaveCount(4, { timeout: 60_000 });
    const labeling = page.getByRole('complementary', { name: 'Labeling' });
    await labeling.getByLabel('Task').selectOption({ label: 'Breast density' });
    await page.getByRole('heading', { level: 1 }).focus();
    await page.keyboard.press('2');
    await expect(page.getByTestId('label-tag').first()).toHaveText('B');
    await page.keyboard.press('c');
    await expect(page.getByTestId('classify-panel')).toHaveAttribute('data-state', 'new', { timeout: 60_000 });
    await expect(page.getByTestId('view-prediction')).toHaveCount(4);
    await page.getByRole('heading', { level: 1 }).focus();
    await page.keyboard.press('m');
    await expect(page.getByTestId('explain-panel')).toHaveAttribute('data-state', 'shown', { timeout: 120_000 });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'electron-flow.png') });
  } finally {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
