// One line per command family. A new family: add a file beside this one exporting
// `register(program)` and list it here.
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  void program;
}
