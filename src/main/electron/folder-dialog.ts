// The folder picker for both the menu and the contract's openFolderDialog. Since Electron 43 the
// dialog opens in Downloads unless told otherwise, so it starts where the last pick was made.
import { dialog, type BrowserWindow } from 'electron';

let lastFolder: string | undefined;

export async function chooseFolder(win: BrowserWindow | null, title: string): Promise<string | null> {
  const options = { title, properties: ['openDirectory' as const], ...(lastFolder ? { defaultPath: lastFolder } : {}) };
  const picked = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  const folder = picked.canceled ? undefined : picked.filePaths[0];
  if (!folder) return null;
  lastFolder = folder;
  return folder;
}
