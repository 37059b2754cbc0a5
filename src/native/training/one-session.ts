// Graphs over the same frozen weights of which at most one has a session at a time: taking one
// releases the other first. With bf16 weights (cast to float32 at session creation) or prepacked
// MatMul weights every session holds its own float32 copy of the frozen weights (10.4 GB for the
// 2.7B text encoder), so a workflow that trains (train_step.onnx) and evaluates (forward.onnx)
// would hold two copies; this way it holds one, at the cost of creating a session again at each
// switch (docs/engine.md#training-memory).
import * as path from 'node:path';
import { canonicalOptions, type EngineSessionOptions } from '../runtime/session-options';
import type { SessionHandle, StepRunner } from './runner';

/**
 * Training workflows hold frozen float32 weights above this size once (one session at a time, not
 * prepacked). Two copies of the 2.7B text encoder (2 x 10.4 GB) do not fit next to anything else;
 * below it a second copy costs less than creating the sessions again at every validation (GPT-2
 * small: 0.5 GB). An object so that a test can run the big-model path on a tiny model.
 */
export const ONE_FROZEN_SESSION = { aboveBytes: 2 * 2 ** 30 };

/** Whether frozen weights of `float32Bytes` (as each session holds them) are held once. */
export function holdFrozenOnce(float32Bytes: number | undefined): boolean {
  return (float32Bytes ?? 0) > ONE_FROZEN_SESSION.aboveBytes;
}

export class OneFrozenSession {
  private held: { id: string; handle: Promise<SessionHandle> } | null = null;

  /** @param weights the frozen weights the graphs hold (frozenWeightsId), for the engine's counters. */
  constructor(
    private readonly runner: StepRunner,
    private readonly weights?: string,
  ) {}

  /** The session of `file` with `options`: the one held when it is that graph, else a new one once the held one is released. */
  async take(file: string, options: EngineSessionOptions): Promise<SessionHandle> {
    const id = `${path.resolve(file)}\0${canonicalOptions(options)}`;
    if (this.held?.id === id) return this.held.handle;
    await this.drop();
    const handle = this.runner.load(file, options, this.weights);
    const held = { id, handle };
    this.held = held;
    try {
      return await handle;
    } catch (e) {
      if (this.held === held) this.held = null;
      throw e;
    }
  }

  /** Releases the session held, if any. */
  async drop(): Promise<void> {
    const held = this.held;
    this.held = null;
    if (!held) return;
    const handle = await held.handle.catch(() => null);
    if (handle) await this.runner.release(handle);
  }
}
