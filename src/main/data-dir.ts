// Where the library lives. The CLI and web host use the same folder as the desktop app (Electron's
// userData for productName "CLEFT Studio") unless told otherwise, so all three see one library.
import os from 'node:os';
import path from 'node:path';

export const APP_FOLDER_NAME = 'CLEFT Studio';

export function defaultUserDataDir(): string {
  const home = os.homedir();
  switch (process.platform) {
    case 'win32':
      return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), APP_FOLDER_NAME);
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', APP_FOLDER_NAME);
    default:
      return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), APP_FOLDER_NAME);
  }
}

/** `--data-dir` wins, then CLEFT_DATA_DIR, then the app's user-data folder. */
export function resolveDataDir(flag?: string): string {
  const chosen = flag ?? process.env.CLEFT_DATA_DIR;
  return path.resolve(chosen && chosen.length > 0 ? chosen : defaultUserDataDir());
}
