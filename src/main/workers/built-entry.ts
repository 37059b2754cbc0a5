// Finds a worker entry file both when running from TypeScript sources (tsx) and from the
// electron-vite bundle, where the caller may sit in out/main or in a shared chunk below it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `sourceFile` beside `callerUrl` (a .ts file, in development) or the bundle's `<bundleName>.js`. */
export function workerEntry(callerUrl: string, sourceFile: string, bundleName: string): string {
  const here = path.dirname(fileURLToPath(callerUrl));
  const ts = path.join(here, sourceFile);
  if (fs.existsSync(ts)) return ts;
  for (const dir of [here, path.dirname(here)]) {
    const js = path.join(dir, `${bundleName}.js`);
    if (fs.existsSync(js)) return js;
  }
  throw new Error(`worker entry ${bundleName}.js not found beside ${here}`);
}
