// The engine's request handler, run inside a worker (ORT's model load and run() block their thread).
// Transport-agnostic: serveEngine works over any WorkerTransport, and tests can call handle directly.
import { ortVersion, type OrtSession, type OrtTensor } from './ort';
import { toWireError, type EngineOp, type EngineOps, type EngineRequest, type EngineResponse, type TensorInfo } from './protocol';
import { resolveExecutionProvider } from './providers';
import { DEFAULT_SESSION_IDLE_MS, SessionCache } from './session-cache';
import { fromOrtTensor, toOrtTensor, transferListOf, type WireTensor } from './tensors';
import type { WorkerTransport } from './transport';

type Handlers = { [K in EngineOp]: (args: EngineOps[K]['args']) => Promise<EngineOps[K]['result']> };

function describe(meta: OrtSession['inputMetadata']): TensorInfo[] {
  return meta.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name }));
}

/** Sessions stay warm between calls; unused ones go after the default idle time until configured. */
export function createEngineHandlers(cache = new SessionCache({ idleMs: DEFAULT_SESSION_IDLE_MS })): Handlers {
  return {
    resolveProvider: ({ choice }) => resolveExecutionProvider(choice),

    createSession: async ({ source, options }) => {
      const { entry, hit } = await cache.acquire(source, options);
      return {
        key: entry.key,
        artifactHash: entry.artifactHash,
        cacheHit: hit,
        placement: entry.placement,
        inputs: describe(entry.session.inputMetadata),
        outputs: describe(entry.session.outputMetadata),
      };
    },

    run: ({ key, feeds, fetches }) =>
      cache.use(key, async (entry) => {
        const ortFeeds: Record<string, OrtTensor> = {};
        for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(t);
        const outputs = fetches ? await entry.session.run(ortFeeds, fetches) : await entry.session.run(ortFeeds);
        const result: Record<string, WireTensor> = {};
        for (const [name, value] of Object.entries(outputs)) result[name] = fromOrtTensor(name, value);
        return result;
      }),

    releaseSession: ({ key }) => cache.release(key),

    configureCache: async ({ policy }) => {
      await cache.configure(policy);
      return cache.stats();
    },

    stats: async () => ({ ...cache.stats(), ortVersion: ortVersion() }),
  };
}

/** Answers one request; never throws (errors become `{ ok: false }`). */
export async function handleRequest(handlers: Handlers, req: EngineRequest): Promise<EngineResponse> {
  try {
    // The union of requests does not narrow a generic lookup; the table's types keep it honest.
    const handler = handlers[req.op] as (args: unknown) => Promise<EngineOps[EngineOp]['result']>;
    return { id: req.id, ok: true, result: await handler(req.args) };
  } catch (err) {
    return { id: req.id, ok: false, error: toWireError(err) };
  }
}

/** Serves requests until the process/thread ends. Output buffers are transferred, not copied. */
export function serveEngine(transport: WorkerTransport<EngineResponse, EngineRequest>, cache?: SessionCache): void {
  const handlers = createEngineHandlers(cache);
  transport.onMessage((req) => {
    void handleRequest(handlers, req).then((res) => {
      const transfer = res.ok && req.op === 'run' ? transferListOf(Object.values(res.result as Record<string, WireTensor>)) : [];
      try {
        transport.send(res, transfer);
      } catch (err) {
        // A result that cannot be cloned (should not happen) must still settle the caller's promise.
        transport.send({ id: req.id, ok: false, error: toWireError(err) });
      }
    });
  });
}
