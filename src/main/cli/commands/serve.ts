// `cleft serve`: the app's UI and contract on a local web host (127.0.0.1, per-launch token).
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend } from '../../api/backend';
import { resolveDataDir } from '../../data-dir';
import { launchThreadWorker } from '../../workers/thread-launcher';
import { startWebHost } from '../../server/web-host';
import { APP_VERSION } from '../../version';

export function defaultRendererDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '../../../../out/renderer');
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('Serve the CLEFT Studio UI on http://127.0.0.1 with a per-launch access token')
    .option('--port <n>', 'port to listen on (0 picks a free one)', (v) => Number.parseInt(v, 10), 0)
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--renderer <dir>', 'built renderer to serve', defaultRendererDir())
    .action(async (opts: { port: number; dataDir?: string; renderer: string }) => {
      const dataDir = resolveDataDir(opts.dataDir);
      const staticDir = fs.existsSync(path.join(opts.renderer, 'index.html')) ? path.resolve(opts.renderer) : null;
      if (!staticDir)
        console.error(`cleft serve: no built UI in ${opts.renderer}; serving the API only (run \`npm run serve\` to build and serve).`);
      const backend = createBackend({
        dataDir,
        launchWorker: launchThreadWorker,
        host: 'web',
        version: APP_VERSION,
        command: 'cleft serve',
      });
      const host = await startWebHost({ backend, staticDir, port: opts.port });
      console.log(`CLEFT Studio is serving the library in ${dataDir}`);
      console.log(`Open ${host.url}`);
      const stop = async (): Promise<void> => {
        await host.close();
        backend.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
