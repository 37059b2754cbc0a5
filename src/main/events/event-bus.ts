// Back-end events (job progress and friends) fanned out to every transport: IPC to windows,
// WebSocket to browsers, listeners in tests.
import type { EventName, EventPayload } from '../../common/contract';

type Listener = (event: EventName, payload: unknown) => void;

export class EventBus {
  private readonly listeners = new Set<Listener>();

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const l of this.listeners) {
      try {
        l(event, payload);
      } catch (err) {
        console.error(`event listener failed for ${event}:`, err);
      }
    }
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
