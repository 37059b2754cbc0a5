// Fans back-end events out to listeners by name. Payloads are checked against the contract
// before any listener sees them: a malformed event is dropped and logged, never half-applied.
import { events, isEventName, type EventName, type EventPayload } from '../../../../common/contract';

type AnyListener = (payload: unknown) => void;

export class EventHub {
  private readonly listeners = new Map<EventName, Set<AnyListener>>();

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const l = listener as AnyListener;
    set.add(l);
    return () => {
      set.delete(l);
    };
  }

  /** Delivers one raw event; returns whether it was valid. */
  emit(name: unknown, payload: unknown): boolean {
    if (!isEventName(name)) {
      console.warn('CLEFT: ignoring an event the UI does not know:', name);
      return false;
    }
    const checked = events[name].safeParse(payload);
    if (!checked.success) {
      console.warn(`CLEFT: ignoring a malformed ${name} event`, checked.error.issues);
      return false;
    }
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        listener(checked.data);
      } catch (err) {
        // One broken listener must not starve the others.
        console.error(`CLEFT: a ${name} listener failed`, err);
      }
    }
    return true;
  }
}
