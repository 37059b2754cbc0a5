// One context object for the whole shell, set by App.svelte, read by pages and components.
import { getContext, setContext } from 'svelte';
import type { RendererClient } from './client';
import type { AppInfoStore } from './stores/app-info.svelte';
import type { ConnectionStore } from './stores/connection.svelte';
import type { JobsStore } from './stores/jobs.svelte';
import type { LabelingStore } from './stores/labeling.svelte';
import type { LibraryStore } from './stores/library.svelte';
import type { RouteStore } from './stores/route.svelte';
import type { SettingsStore } from './stores/settings.svelte';
import type { ToastStore } from './stores/toasts.svelte';
import type { UiStore } from './stores/ui.svelte';

export interface AppContext {
  client: RendererClient;
  app: AppInfoStore;
  connection: ConnectionStore;
  jobs: JobsStore;
  labeling: LabelingStore;
  library: LibraryStore;
  route: RouteStore;
  settings: SettingsStore;
  toasts: ToastStore;
  ui: UiStore;
}

const KEY = Symbol('cleft-app');

export function provideApp(context: AppContext): void {
  setContext(KEY, context);
}

export function useApp(): AppContext {
  const context = getContext<AppContext | undefined>(KEY);
  if (!context) throw new Error('useApp() outside <App>');
  return context;
}
