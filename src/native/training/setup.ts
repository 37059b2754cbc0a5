/**
 * What a training setup is: a function that builds the model's loss graph from trainable and frozen
 * parameters, called once for inference (`training: false`) and once for the train step. The
 * trainable tensors are the graph's `trainable: true` params, in creation order; they are laid out in
 * one flat float32 vector (the optimizer's view) with one offset per tensor.
 */
import { ops, type Graph, type Tensor } from '../graph/index';
import type { EmitTarget } from '../graph/op';
import type { WireTensor } from '../runtime/tensors';

export interface BuildContext {
  readonly graph: Graph;
  /** false for forward.onnx (dropout off), true for train_step.onnx. */
  readonly training: boolean;
  /** Provider the graph is emitted for (models split weights larger than a WebGPU binding). */
  readonly target: EmitTarget;
  /**
   * Inverted dropout with a mask hashed from the per-step seed fed as `dropout_seed` (int32 [4]:
   * `dropoutSeedFeed`); identity when not training. Each call site gets its own salt, in call order.
   */
  dropout(x: Tensor, rate: number): Tensor;
}

export interface BuiltModel {
  /** Scalar float loss (mean over the batch). */
  loss: Tensor;
  /** Inference outputs for forward.onnx (default: the loss). */
  outputs?: Record<string, Tensor>;
}

export interface TrainingSetup {
  /** Used in the manifest and in error messages. */
  name: string;
  build(ctx: BuildContext): BuiltModel;
  /** The frozen weights its graphs hold (models/weights.ts frozenWeightsId), for the engine's session counters. */
  frozenWeights?: string;
  /**
   * Bytes of the frozen weights each session of its graphs holds in float32 (one-session.ts
   * `holdFrozenOnce`); undefined when they are small or int8 (whose MatMulNBits need prepacking).
   */
  frozenFloat32Bytes?: number;
}

export const DROPOUT_SEED = 'dropout_seed';

/** What checkpoints of runs with dropout record about their masks (`hyperparameters.dropoutMask`). */
export const DROPOUT_MASK = ops.DROPOUT_MASK_HASH;

/**
 * Why a checkpoint whose `dropoutMask` is `recorded` cannot continue a run with this version's masks
 * (undefined: it can). Checkpoints before the mask was recorded used an int64 hash: other masks.
 */
export function dropoutMaskMismatch(recorded: unknown): string | undefined {
  if (recorded === DROPOUT_MASK) return undefined;
  const was = typeof recorded === 'string' ? `the '${recorded}' mask hash` : 'the int64 mask hash of earlier versions (or without dropout)';
  return `dropout masks: the checkpoint was trained with ${was}, this version computes '${DROPOUT_MASK}' masks, so resumed steps would not see the masks of the run; start the run again instead of resuming`;
}

/** The `dropout_seed` feed for a per-step seed (e.g. `deriveSeed(seed, step, microBatch)`). */
export function dropoutSeedFeed(seed: bigint): WireTensor {
  return { type: 'int32', dims: [...ops.DROPOUT_SEED_SHAPE], data: ops.dropoutSeedWords(seed) };
}

export function makeBuildContext(graph: Graph, training: boolean, target: EmitTarget = 'cpu'): BuildContext & { usesSeed(): boolean } {
  let seed: Tensor | null = null;
  let salt = 0;
  return {
    graph,
    training,
    target,
    dropout(x, rate) {
      const s = salt++;
      if (!training || rate === 0) return x;
      seed ??= graph.input(DROPOUT_SEED, 'int32', [...ops.DROPOUT_SEED_SHAPE]);
      return ops.dropout(x, rate, seed, s);
    },
    usesSeed: () => seed !== null,
  };
}

export interface TrainableEntry {
  name: string;
  shape: number[];
  /** Offset (in elements) in the flat vector. */
  offset: number;
  size: number;
  /** Whether weight decay applies. */
  decay: boolean;
}

export interface ParamLayout {
  entries: TrainableEntry[];
  /** Total number of trainable elements. */
  total: number;
}

/** Weight-decay exclusion: names matching any pattern get no decay (strings match exactly or as a suffix after '.'). */
export type DecayExclusion = readonly (string | RegExp)[];

/** A common choice: biases and norm weights are not decayed. */
export const NO_DECAY_BIAS_AND_NORM: DecayExclusion = [/(^|\.)(b|bias)$/, /(^|\.)(ln\w*|norm\w*|layernorm\w*)\.(w|weight|b|bias)$/i];

export function excluded(name: string, patterns: DecayExclusion): boolean {
  return patterns.some((p) => (typeof p === 'string' ? name === p || name.endsWith(`.${p}`) : p.test(name)));
}

export function layoutOf(trainables: readonly Tensor[], exclude: DecayExclusion = []): ParamLayout {
  let offset = 0;
  const entries = trainables.map((t) => {
    const name = t.node.leaf?.name;
    if (!name) throw new Error('trainable parameter without a name');
    if (t.dtype !== 'float32') throw new Error(`trainable '${name}' is ${t.dtype}: the trainer keeps float32 tensors only`);
    const shape = t.shape.map((d) => {
      if (typeof d !== 'number') throw new Error(`trainable '${name}' has a symbolic dim`);
      return d;
    });
    const size = shape.reduce((a, b) => a * b, 1);
    const e = { name, shape, offset, size, decay: !excluded(name, exclude) };
    offset += size;
    return e;
  });
  return { entries, total: offset };
}
