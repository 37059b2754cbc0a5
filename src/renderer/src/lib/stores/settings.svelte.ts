// User settings: loaded once, updated through settings.update (which validates; its field issues
// are the caller's to show next to the fields).
import type { Settings } from '../../../../common/contract';
import type { RendererClient } from '../client';

export class SettingsStore {
  value = $state<Settings | null>(null);
  loadError = $state<string | null>(null);
  private loading: Promise<void> | null = null;

  constructor(private readonly client: RendererClient) {}

  /** Loads once; later calls share the first request. */
  ensure(): Promise<void> {
    this.loading ??= this.reload();
    return this.loading;
  }

  async reload(): Promise<void> {
    try {
      this.value = await this.client.invoke('settings.get', {});
      this.loadError = null;
    } catch (err) {
      this.loadError = err instanceof Error ? err.message : String(err);
      this.loading = null;
    }
  }

  /** Throws CleftError (with issues for invalid_input) and leaves the stored value untouched. */
  async update(patch: Partial<Settings>): Promise<Settings> {
    const next = await this.client.invoke('settings.update', patch);
    this.value = next;
    return next;
  }
}

/** "auto (CUDA if it works, else CPU)" etc., for pages that mention the compute setup. */
export function describeProvider(provider: string): string {
  if (provider === 'auto') return 'Automatic: CUDA when it works, otherwise CPU';
  if (provider === 'cpu') return 'CPU';
  if (provider === 'webgpu') return 'WebGPU GPU';
  const m = /^cuda:(\d+)$/.exec(provider);
  return m ? `CUDA, GPU ${m[1]}` : provider;
}

export function describeThreads(threads: number): string {
  return threads === 0 ? 'one per CPU core' : `${threads} thread${threads === 1 ? '' : 's'}`;
}
