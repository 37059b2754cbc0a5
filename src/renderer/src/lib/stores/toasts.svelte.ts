// Non-blocking messages. Errors go to a role="alert" region (read out at once) and stay until
// dismissed or for a while; notices go to a polite status region and leave sooner.
import { CleftError } from '../../../../common/errors';

export type ToastKind = 'error' | 'notice';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
  detail: string | null;
}

const LIFETIME_MS: Record<ToastKind, number> = { error: 15_000, notice: 5_000 };
const MAX_TOASTS = 5;

export class ToastStore {
  items = $state<Toast[]>([]);
  private nextId = 1;
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- timers are bookkeeping, never rendered
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();

  error(message: string, detail: string | null = null): void {
    this.push('error', message, detail);
  }

  notice(message: string, detail: string | null = null): void {
    this.push('notice', message, detail);
  }

  /** A failed call, worded for a reader: the back end's message, its code as detail. */
  failure(action: string, err: unknown): void {
    if (err instanceof CleftError) this.error(`${action}: ${err.message}`, err.code === 'internal' ? null : `code: ${err.code}`);
    else this.error(`${action}: ${err instanceof Error ? err.message : String(err)}`);
  }

  dismiss(id: number): void {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
    this.items = this.items.filter((t) => t.id !== id);
  }

  private push(kind: ToastKind, message: string, detail: string | null): void {
    // The same message twice in a row (a retry loop, a double click) is shown once.
    const last = this.items.at(-1);
    if (last && last.kind === kind && last.message === message) return;
    const id = this.nextId++;
    this.items = [...this.items, { id, kind, message, detail }].slice(-MAX_TOASTS);
    this.timers.set(
      id,
      setTimeout(() => this.dismiss(id), LIFETIME_MS[kind]),
    );
  }
}
