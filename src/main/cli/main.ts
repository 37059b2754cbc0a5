// Entry of the `cleft` command line. Each command family lives in ./commands and registers itself
// here; commands call the same services as the app (src/main/api, src/native), never the UI.
import { Command } from 'commander';
import { errorMessage } from '../../native/io/disk-full';
import { usePrivateUmask } from '../data-dir';
import { registerCommands } from './commands/index';

/**
 * A reader that stops early (`cleft runs list | head -1`) closes the pipe: the next write fails with
 * EPIPE, which Node would throw as an uncaught error with a stack. That is not a failure of the
 * command: exit quietly, with status 0, as a command killed by SIGPIPE would leave a pipeline.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(0);
    });
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedPipe();
  usePrivateUmask();
  const program = new Command()
    .name('cleft')
    .description('CLEFT Studio: vision-language models on your own mammograms, offline.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError();
  registerCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    console.error(`cleft: ${errorMessage(err)}`);
    process.exitCode = 1;
  }
}
