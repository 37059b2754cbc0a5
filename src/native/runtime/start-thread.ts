// Starts a worker thread on a .ts entry (running from sources through tsx) or a .js entry (a
// bundle). Every worker may load onnxruntime, so telemetry is switched off first, on the thread
// whose environment native code reads.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { disableOrtTelemetry } from './telemetry';

export function isTypeScript(file: string): boolean {
  return /\.[cm]?ts$/.test(file);
}

export function startThread(entry: string | URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  disableOrtTelemetry();
  const url = entry instanceof URL ? entry : entry.startsWith('file:') ? new URL(entry) : pathToFileURL(entry);
  return isTypeScript(url.pathname) ? new Worker(tsBootstrap(url), { ...options, eval: true }) : new Worker(url, options);
}

/**
 * How to start a worker on a .ts entry. Measured on Node 20.20 with tsx 4.23:
 * `new Worker(tsUrl, { execArgv: ['--import', 'tsx'] })` fails with ERR_UNKNOWN_FILE_EXTENSION
 * (the flag registers no hooks for the worker's modules, not even for later dynamic imports), and a
 * worker does not inherit the parent's hooks. What works: a small eval'd bootstrap that calls tsx's
 * `register()` API inside the worker and then imports the entry. tsx is resolved here, against this
 * package, so it is found whatever the user's cwd is.
 */
function tsBootstrap(entry: URL): string {
  const tsxApi = tsxEsmApiUrl();
  return (
    `import(${JSON.stringify(tsxApi)})` +
    `.then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })` +
    // Rethrow asynchronously so the failure reaches the host as the worker's 'error' event.
    `.catch((e) => { setImmediate(() => { throw e; }); });`
  );
}

/**
 * The ESM build of tsx's API. `require.resolve('tsx/esm/api')` would give the CJS build (require
 * condition), which fails when imported from an eval'd worker; `import.meta.resolve` is not
 * available in every host (test runners), so read the package's export map.
 */
function tsxEsmApiUrl(): string {
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
    exports?: Record<string, { import?: { default?: string } } | string>;
  };
  const api = pkg.exports?.['./esm/api'];
  const rel = typeof api === 'object' ? api.import?.default : undefined;
  if (!rel) throw new Error('Cannot find the ESM entry of tsx/esm/api; is tsx installed?');
  return pathToFileURL(path.join(path.dirname(pkgPath), rel)).href;
}
