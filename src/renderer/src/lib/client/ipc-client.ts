// The contract over Electron IPC: wraps the preload's `window.cleft` bridge, which carries raw
// envelopes, into typed values and thrown CleftErrors. IPC has no connection to lose, so the
// event channel is always open.
import type { BinaryInput, BinaryMethodName } from '../../../../common/binary';
import type { EventName, EventPayload, MethodInput, MethodName, MethodOutput } from '../../../../common/contract';
import { CleftError } from '../../../../common/errors';
import type { CleftBridge } from '../../../../common/ipc';
import { unpackBinary } from './binary';
import { asCleftError, unwrapEnvelope } from './envelope';
import { EventHub } from './event-hub';
import type { BinaryResult, ConnectionState, RendererClient } from './types';

const OPEN: ConnectionState = { status: 'open', attempt: 0, retryInMs: null, reason: null };

export class IpcClient implements RendererClient {
  readonly transport = 'ipc' as const;
  private readonly hub = new EventHub();
  private readonly unsubscribe: () => void;

  constructor(private readonly bridge: CleftBridge) {
    // One bridge subscription for the page; the hub fans events out by name.
    this.unsubscribe = bridge.on((event, payload) => this.hub.emit(event, payload));
  }

  async invoke<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
    let raw: unknown;
    try {
      raw = await this.bridge.invoke(method, input ?? {});
    } catch (err) {
      throw asCleftError(err, `${method}: the desktop back end did not answer`);
    }
    return unwrapEnvelope<MethodOutput<M>>(raw, method);
  }

  async invokeBinary<M extends BinaryMethodName>(method: M, input: BinaryInput<M>): Promise<BinaryResult<M>> {
    let raw: Uint8Array | { ok: false; error: unknown };
    try {
      raw = await this.bridge.invokeBinary(method, input ?? {});
    } catch (err) {
      throw asCleftError(err, `${method}: the desktop back end did not answer`);
    }
    // contextBridge hands typed arrays over as copies; check by shape, not by realm.
    if (ArrayBuffer.isView(raw)) return unpackBinary(method, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    unwrapEnvelope(raw, method);
    throw new CleftError('internal', `${method}: the desktop back end answered without pixels`);
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    return this.hub.on(event, listener);
  }

  connection(): ConnectionState {
    return OPEN;
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    // Tell the listener once, as a freshly opened HTTP channel would, so stores load the same way.
    queueMicrotask(() => listener(OPEN));
    return () => undefined;
  }

  close(): void {
    this.unsubscribe();
  }
}
