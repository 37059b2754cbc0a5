// What the shell shows about the back end: app.info (version, host, data folder) and library
// counts, which drive the honest empty states.
import type { AppInfo, LibraryStats } from '../../../../common/contract';
import type { RendererClient } from '../client';
import { CleftError } from '../../../../common/errors';

export class AppInfoStore {
  info = $state<AppInfo | null>(null);
  stats = $state<LibraryStats | null>(null);
  /** Set when app.info failed; the shell shows it instead of the pages. */
  fatal = $state<CleftError | null>(null);

  constructor(private readonly client: RendererClient) {}

  async load(): Promise<void> {
    try {
      const [info, stats] = await Promise.all([this.client.invoke('app.info', {}), this.client.invoke('library.stats', {})]);
      this.info = info;
      this.stats = stats;
      this.fatal = null;
    } catch (err) {
      this.fatal = err instanceof CleftError ? err : new CleftError('internal', String(err));
    }
  }

  async refreshStats(): Promise<void> {
    try {
      this.stats = await this.client.invoke('library.stats', {});
    } catch {
      // Counts are decoration on the pages; a failed refresh keeps the last ones.
    }
  }
}
