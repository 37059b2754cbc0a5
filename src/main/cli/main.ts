// Entry of the `cleft` command line. Each command family lives in ./commands and registers itself
// here; commands call the same services as the app (src/main/api, src/native), never the UI.
import { Command } from 'commander';
import { errorMessage } from '../../native/io/disk-full';
import { usePrivateUmask } from '../data-dir';
import { registerCommands } from './commands/index';

export async function main(argv: string[]): Promise<void> {
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
