// Collects a device record for inference work (classify, explain, embed, cached features): wraps an
// engine so every session it creates is noted under the graph name the caller gives, with the
// placement ORT reported for it. Training records come from the Trainer (cleft/common.ts).
import type { ProviderChoice, ResolvedProvider } from './providers';
import type { ModelSource } from './session-cache';
import type { SessionInfo, SessionKeepPolicy } from './protocol';
import type { EngineSessionOptions } from './session-options';
import type { WireFeeds, WireTensor } from './tensors';
import { deviceRecord, type DeviceRecord } from './device-record';
import type { SessionCacheStats, SessionPlacement } from './session-cache';

/** The engine surface the embedding code uses (models/embed.ts EmbedEngine has this shape). */
export interface RecordableEngine {
  resolveProvider(choice: ProviderChoice): Promise<ResolvedProvider>;
  createSession(source: ModelSource, options: EngineSessionOptions): Promise<SessionInfo>;
  run(key: string, feeds: WireFeeds): Promise<Record<string, WireTensor>>;
  /** The kept sessions' idle release and memory budget (the Settings), when the engine has them. */
  configureCache?(policy: SessionKeepPolicy): Promise<SessionCacheStats>;
}

export class DeviceRecorder {
  private provider: ResolvedProvider | null = null;
  private threads: number | undefined;
  private readonly graphs: Record<string, SessionPlacement> = {};
  private training: DeviceRecord | null = null;

  constructor(private readonly base: () => Promise<RecordableEngine>) {}

  /**
   * An engine whose sessions are recorded as `graph` (image_encoder, text_encoder, prompt_encoder,
   * ...); without one, each session is named by its inputs (pixel_values: image_encoder, ctx:
   * prompt_encoder, input_ids: text_encoder).
   */
  engine(graph?: string): RecordableEngine {
    let inner: Promise<RecordableEngine> | null = null;
    const get = () => (inner ??= this.base());
    return {
      resolveProvider: async (choice) => {
        const p = await (await get()).resolveProvider(choice);
        this.provider ??= p;
        return p;
      },
      createSession: async (source, options) => {
        const info = await (await get()).createSession(source, options);
        this.graphs[graph ?? graphNameOf(info)] = info.placement;
        this.provider ??= options.provider ?? null;
        if (options.intraOpNumThreads !== undefined) this.threads = options.intraOpNumThreads;
        return info;
      },
      run: async (key, feeds) => (await get()).run(key, feeds),
      // Passed through, so the Settings' policy reaches the engine under a recorder too.
      configureCache: async (policy) => {
        const engine = await get();
        // An engine that keeps no sessions has nothing to release.
        return engine.configureCache ? engine.configureCache(policy) : { hits: 0, misses: 0, size: 0, bytes: 0, evictions: 0 };
      },
    };
  }

  /** A training's record (RunOptions.onDevice): its provider and reason lead, its graphs join the others. */
  addTraining(record: DeviceRecord): void {
    this.training ??= record;
  }

  /** The record, or null when nothing ran on the engine (every feature came from the cache). */
  record(): DeviceRecord | null {
    const inference = this.provider && Object.keys(this.graphs).length > 0 ? deviceRecord(this.provider, this.graphs, this.threads) : null;
    if (!this.training) return inference;
    return { ...this.training, graphs: { ...(inference?.graphs ?? {}), ...this.training.graphs } };
  }
}

/** What an encoder session computes, from its inputs. */
function graphNameOf(info: SessionInfo): string {
  const inputs = new Set(info.inputs.map((i) => i.name));
  if (inputs.has('pixel_values')) return 'image_encoder';
  if (inputs.has('ctx')) return 'prompt_encoder';
  if (inputs.has('input_ids') || inputs.has('class_ids')) return 'text_encoder';
  return 'graph';
}
