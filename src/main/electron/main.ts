// Electron main process: one hardened window over the shared back end. Everything the UI can do
// goes through the contract (IPC -> dispatch -> handlers); this file only wires Electron to it.
process.env.ORT_DISABLE_TELEMETRY = '1';

import { app, BrowserWindow, dialog, ipcMain, Menu, screen } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UiCommand } from '../../common/contract';
import { IPC_BINARY, IPC_EVENT, IPC_INVOKE } from '../../common/ipc';
import { createBackend, type Backend } from '../api/backend';
import { dispatch } from '../api/dispatch';
import { dispatchBinary } from '../api/dispatch-binary';
import { resolveDataDir, usePrivateUmask } from '../data-dir';
import { APP_VERSION } from '../version';
import { registerAppScheme, serveRenderer } from './app-protocol';
import { devServerUrl as devServerUrlFrom } from './dev-server';
import { chooseFolder } from './folder-dialog';
import { buildMenu } from './menu';
import { APP_ORIGIN, hardenContents, hardenSession, isAppUrl } from './security';
import { launchUtilityWorker } from './utility-launcher';
import { DEFAULT_SIZE, loadWindowState, saveWindowState, visibleBounds } from './window-state';

const here = path.dirname(fileURLToPath(import.meta.url));
const devServerUrl = devServerUrlFrom(process.env, app.isPackaged);
let mainWindow: BrowserWindow | null = null;
let backend: Backend | null = null;
usePrivateUmask();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  registerAppScheme();
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('web-contents-created', (_e, contents) => hardenContents(contents, devServerUrl));
  app.on('window-all-closed', () => app.quit());
  app.on('will-quit', () => backend?.close());
  app.whenReady().then(start, (err: unknown) => fail(err));
}

function fail(err: unknown): void {
  dialog.showErrorBox('CLEFT Studio could not start', err instanceof Error ? err.message : String(err));
  app.exit(1);
}

function start(): void {
  try {
    hardenSession(devServerUrl);
    serveRenderer(path.join(here, '../renderer'));
    // CLEFT_DATA_DIR lets tests and power users point the app at another library.
    const dataDir = process.env.CLEFT_DATA_DIR ? resolveDataDir() : app.getPath('userData');
    backend = createBackend({
      dataDir,
      launchWorker: launchUtilityWorker,
      host: 'electron',
      version: APP_VERSION,
      electronVersion: process.versions.electron ?? null,
      command: 'CLEFT Studio (desktop app)',
      openFolderDialog: (title) => chooseFolder(mainWindow, title ?? 'Choose a folder'),
    });
    const b = backend;
    ipcMain.handle(IPC_INVOKE, (event, method: unknown, input: unknown) => {
      // Only our own page may call the back end.
      const url = event.senderFrame?.url ?? '';
      if (!isAppUrl(url, devServerUrl))
        return { ok: false, error: { code: 'unauthorized', message: 'caller is not the CLEFT Studio window' } };
      return dispatch(b.handlers, method, input);
    });
    ipcMain.handle(IPC_BINARY, async (event, method: unknown, input: unknown) => {
      const url = event.senderFrame?.url ?? '';
      if (!isAppUrl(url, devServerUrl))
        return { ok: false, error: { code: 'unauthorized', message: 'caller is not the CLEFT Studio window' } };
      const result = await dispatchBinary(b, method, input);
      return result.ok ? result.bytes : result;
    });
    b.events.subscribe((name, payload) => {
      for (const win of BrowserWindow.getAllWindows()) win.webContents.send(IPC_EVENT, name, payload);
    });
    const send = (command: UiCommand): void => b.events.emit('ui.command', command);
    Menu.setApplicationMenu(buildMenu(() => mainWindow, send, devServerUrl !== undefined));
    createWindow(path.join(dataDir, 'window-state.json'));
  } catch (err) {
    fail(err);
  }
}

function createWindow(stateFile: string): void {
  const saved = loadWindowState(stateFile);
  const bounds = visibleBounds(
    saved,
    screen.getAllDisplays().map((d) => d.workArea),
  );
  const win = new BrowserWindow({
    ...(bounds ?? DEFAULT_SIZE),
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'CLEFT Studio',
    backgroundColor: '#111315',
    webPreferences: {
      preload: path.join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      navigateOnDragDrop: false,
      // Middle-click would open links in new windows; there are none to open.
      disableBlinkFeatures: 'Auxclick',
    },
  });
  mainWindow = win;
  if (saved?.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  win.on('close', () => {
    const b = win.getNormalBounds();
    saveWindowState(stateFile, { ...b, maximized: win.isMaximized() });
  });
  win.on('closed', () => {
    mainWindow = null;
  });
  void win.loadURL(devServerUrl ?? `${APP_ORIGIN}/index.html`);
}
