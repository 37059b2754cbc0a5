// What crosses Electron IPC. Kept free of imports so the sandboxed preload stays tiny.

/** The raw bridge preload exposes as `window.cleft`: envelopes in and out, plain data only. */
export interface CleftBridge {
  invoke(method: string, input: unknown): Promise<unknown>;
  /** Binary methods: resolves to the encoded buffer (see binary.ts) or an error envelope. */
  invokeBinary(method: string, input: unknown): Promise<Uint8Array | { ok: false; error: unknown }>;
  on(listener: (event: string, payload: unknown) => void): () => void;
}

export const IPC_INVOKE = 'cleft:invoke';
export const IPC_EVENT = 'cleft:event';
export const IPC_BINARY = 'cleft:binary';
