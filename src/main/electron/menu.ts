// The application menu. Page entries and "Open Folder…" become `ui.command` events the UI obeys.
import { app, dialog, Menu, type BrowserWindow, type MenuItemConstructorOptions } from 'electron';
import type { UiCommand } from '../../common/contract';
import { chooseFolder } from './folder-dialog';

type Page = Extract<UiCommand, { command: 'navigate' }>['page'];

const PAGES: [Page, string][] = [
  ['library', 'Library'],
  ['viewer', 'Viewer'],
  ['labels', 'Labels'],
  ['predictions', 'Predictions'],
  ['training', 'Training'],
  ['models', 'Models'],
  ['settings', 'Settings'],
  ['archive', 'Archive'],
];

export function buildMenu(getWindow: () => BrowserWindow | null, send: (command: UiCommand) => void, dev: boolean): Menu {
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        {
          label: 'Import Folder…',
          accelerator: 'CmdOrCtrl+O',
          click: async () => {
            const folder = await chooseFolder(getWindow(), 'Import a folder of DICOM files');
            if (folder) send({ command: 'import-folder', path: folder });
          },
        },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        ...PAGES.map(([page, label], i): MenuItemConstructorOptions => ({
          label,
          accelerator: `CmdOrCtrl+${i + 1}`,
          click: () => send({ command: 'navigate', page }),
        })),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { role: 'togglefullscreen' },
        ...(dev ? [{ type: 'separator' as const }, { role: 'reload' as const }, { role: 'toggleDevTools' as const }] : []),
      ],
    },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [
        {
          label: 'About CLEFT Studio',
          click: () =>
            void dialog.showMessageBox({
              type: 'info',
              title: 'About CLEFT Studio',
              message: `CLEFT Studio ${app.getVersion()}`,
              detail: 'Vision-language models on your own mammograms. Everything runs on this machine; no data leaves it.',
            }),
        },
      ],
    },
  ];
  return Menu.buildFromTemplate(template);
}
