// What the UI holds: the contract's client plus the state of its event channel, so the shell can
// say whether live updates (job progress) are flowing. Both transports implement it.
import type { BinaryInput, BinaryMeta, BinaryMethodName } from '../../../../common/binary';
import type { CleftClient } from '../../../../common/contract';

export type ConnectionStatus =
  /** First attempt to open the event channel. */
  | 'connecting'
  /** Events are flowing. */
  | 'open'
  /** The channel dropped; a retry is scheduled (see retryInMs). */
  | 'reconnecting'
  /** Closed for good: closed by us, or there is no access token to connect with. */
  | 'closed';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Failed attempts since the channel was last open. */
  attempt: number;
  /** Delay before the next attempt while reconnecting, else null. */
  retryInMs: number | null;
  /** Why the channel is closed or reconnecting, in words for the status line. */
  reason: string | null;
}

/** A binary method's answer: its validated metadata and the pixel bytes (8-byte aligned). */
export interface BinaryResult<M extends BinaryMethodName> {
  meta: BinaryMeta<M>;
  data: ArrayBuffer;
}

export interface RendererClient extends CleftClient {
  /** Binary methods (decoded frames): one buffer instead of JSON. Throws CleftError like invoke. */
  invokeBinary<M extends BinaryMethodName>(method: M, input: BinaryInput<M>): Promise<BinaryResult<M>>;
  connection(): ConnectionState;
  /** Called on every change of the event channel; the UI refetches lists when it reopens. */
  onConnection(listener: (state: ConnectionState) => void): () => void;
  close(): void;
}
