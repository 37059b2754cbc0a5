// The event channel's state for the status line, and a counter of (re)openings that stores use
// to refetch what they may have missed while it was down.
import type { ConnectionState, RendererClient } from '../client';

export class ConnectionStore {
  state = $state<ConnectionState>({ status: 'connecting', attempt: 0, retryInMs: null, reason: null });
  /** Increments each time the channel opens. */
  openings = $state(0);
  readonly transport: RendererClient['transport'];

  constructor(client: RendererClient) {
    this.transport = client.transport;
    this.state = client.connection();
    client.onConnection((next) => {
      this.state = next;
      if (next.status === 'open') this.openings++;
    });
  }
}
