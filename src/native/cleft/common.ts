// What the training workflows share: optimizer/schedule options with PyTorch's defaults, artifacts
// emission into a work folder, the Trainer and array data sources (splits: splits.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WireFeeds, WireTensor } from '../runtime/tensors';
import {
  emitForwardFor,
  emitTrainingArtifacts,
  inThreadRunner,
  OneFrozenSession,
  holdFrozenOnce,
  Trainer,
  type LrSchedule,
  type OptimizerConfig,
  type StepRunner,
  type SessionHandle,
  DROPOUT_SEED,
  dropoutSeedFeed,
  type TrainData,
  type TrainingSetup,
} from '../training/index';
import type { EngineSessionOptions } from '../runtime/session-options';
import { resolveExecutionProvider, type ProviderChoice } from '../runtime/providers';
import { deviceRecord, type DeviceRecord } from '../runtime/device-record';
import { hasCheckpoint, type CheckpointOptions, type ProgressHook } from './loop';

/**
 * Optimizer settings with torch.optim's defaults: AdamW(betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0.01, applied to every trainable tensor); SGD(momentum 0, dampening 0,
 * weight_decay 0 coupled as L2, nesterov false).
 */
export interface OptimizerOptions {
  kind: 'adamw' | 'sgd';
  lr: number;
  weightDecay?: number;
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  nesterov?: boolean;
  /** Learning-rate schedule (default constant = torch without a scheduler). */
  schedule?: { kind: 'constant' } | { kind: 'cosine'; warmupSteps: number; minLr?: number };
  /** Global-norm gradient clipping (default none). */
  maxGradNorm?: number;
}

export function optimizerConfig(o: OptimizerOptions): OptimizerConfig {
  if (o.kind === 'adamw')
    return { kind: 'adamw', beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0.01 };
  return { kind: 'sgd', momentum: o.momentum ?? 0, dampening: 0, nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0 };
}

export function lrSchedule(o: OptimizerOptions, totalSteps: number): LrSchedule {
  const s = o.schedule ?? { kind: 'constant' };
  if (s.kind === 'constant') return { kind: 'constant', lr: o.lr };
  return { kind: 'cosine', lr: o.lr, warmupSteps: s.warmupSteps, totalSteps, ...(s.minLr !== undefined ? { minLr: s.minLr } : {}) };
}

/** Common knobs of a training run. One "step" is one optimizer update over `accumulation` micro-batches of `batchSize`. */
export interface RunOptions {
  optimizer: OptimizerOptions;
  /** Optimizer updates in total (a resumed run continues up to this number). */
  steps: number;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches per update (gradients averaged; default 1). */
  accumulation?: number;
  /** Shuffle the training data each epoch (seeded; default true). With false, batches are taken in order. */
  shuffle?: boolean;
  /** Data order, dropout masks, initialisation and splits (default 0). */
  seed?: number;
  /** Folder for the training graphs (and, by default, the weight links they need). */
  workDir: string;
  checkpoint?: CheckpointOptions;
  signal?: AbortSignal;
  onProgress?: ProgressHook;
  /** ORT session options (threads, provider). */
  session?: EngineSessionOptions;
  /**
   * auto | cpu | webgpu | cuda:N, resolved when the trainer starts (overrides `session.provider`).
   * Default: `session.provider`, else CPU.
   */
  device?: ProviderChoice;
  /** Called once the training graphs are loaded, with where they run (for the run record). */
  onDevice?: (record: DeviceRecord) => void;
  runner?: StepRunner;
  /** Keep the training state on the device where possible (Trainer's deviceState; default true). */
  deviceState?: boolean;
  /**
   * At most one session over the frozen weights at a time (the train step, or a forward for
   * evaluation), not prepacked: one float32 copy of them instead of two, a session created again at
   * each switch (training/one-session.ts). Default: when the setup's frozen float32 weights are
   * large (`holdFrozenOnce`).
   */
  oneFrozenSession?: boolean;
}

export interface WorkflowTrainer {
  trainer: Trainer;
  /**
   * Loss and gradients of train_step.onnx on these examples at the current values (no update; dropout
   * seed 0). On WebGPU the graph has static shapes: exactly `batchSize` examples.
   */
  gradients(indices: readonly number[]): Promise<{ loss: number; grads: Map<string, Float32Array> }>;
  /** Runs forward.onnx with the given trainable values (default: the trainer's current ones). */
  forward(batch: WireFeeds, params?: Map<string, Float32Array>): Promise<Record<string, WireTensor>>;
  close(): Promise<void>;
}

/** Emits the artifacts and creates (or resumes) the Trainer. */
export async function createTrainer(
  setup: TrainingSetup,
  run: RunOptions,
  data: TrainData,
  initialParams: Map<string, Float32Array>,
  noDecay: (string | RegExp)[] = [],
): Promise<WorkflowTrainer> {
  fs.mkdirSync(run.workDir, { recursive: true });
  const artifactsDir = path.resolve(run.workDir);
  const provider =
    run.device !== undefined ? await resolveExecutionProvider(run.device) : (run.session?.provider ?? { name: 'cpu', choice: 'cpu' });
  const once = run.oneFrozenSession ?? holdFrozenOnce(setup.frozenFloat32Bytes);
  // held once, the weights are not prepacked either: a prepacked MatMul weight is a second copy
  const session: EngineSessionOptions = { ...(run.session ?? {}), provider, ...(once ? { sharedWeights: true } : {}) };
  // Emitted for the provider that runs them: WebGPU gets forms of ops its EP has kernels for, and
  // static shapes (those of one micro-batch) so that no shape is computed at run time.
  const target = provider.name === 'webgpu' ? 'webgpu' : 'cpu';
  const shapesOf = (feeds: WireFeeds) => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims]));
  const batchShapes = target === 'webgpu' ? shapesOf(data.batch(Array.from({ length: run.batchSize }, (_, i) => i))) : undefined;
  const manifest = emitTrainingArtifacts(setup, {
    dir: artifactsDir,
    optimizer: optimizerConfig(run.optimizer),
    noDecay,
    target,
    ...(batchShapes ? { batchShapes } : {}),
  });
  const resume = run.checkpoint && run.checkpoint.resume !== false && hasCheckpoint(run.checkpoint.dir);
  const runner = run.runner ?? inThreadRunner();
  const frozen = once ? new OneFrozenSession(runner, setup.frozenWeights) : null;
  const trainer = await Trainer.create({
    artifactsDir,
    data,
    batchSize: run.batchSize,
    accumulation: run.accumulation ?? 1,
    seed: run.seed ?? 0,
    shuffle: run.shuffle ?? true,
    schedule: lrSchedule(run.optimizer, run.steps),
    ...(run.optimizer.maxGradNorm !== undefined ? { maxGradNorm: run.optimizer.maxGradNorm } : {}),
    initialParams,
    runner,
    session,
    ...(run.deviceState !== undefined ? { deviceState: run.deviceState } : {}),
    ...(setup.frozenWeights !== undefined ? { frozenWeights: setup.frozenWeights } : {}),
    ...(frozen ? { oneFrozenSession: frozen } : {}),
    ...(resume ? { resumeFrom: run.checkpoint!.dir } : {}),
  });
  run.onDevice?.({
    ...deviceRecord(provider, trainer.placements, session.intraOpNumThreads),
    trainingState: trainer.hostStateReason === null ? 'device' : `host: ${trainer.hostStateReason}`,
  });
  // Sessions of the frozen weights' graphs: through the one-at-a-time holder, else kept (by file).
  const kept = new Map<string, Promise<SessionHandle>>();
  const frozenSession = (file: string): Promise<SessionHandle> => {
    if (frozen) return frozen.take(file, session);
    let s = kept.get(file);
    if (!s) kept.set(file, (s = runner.load(file, session, setup.frozenWeights)));
    return s;
  };
  const forwardFile = path.join(artifactsDir, manifest.files.forward.file);
  if (!frozen) await frozenSession(forwardFile);
  // Static-shape forwards for batches of other shapes (evaluation chunks), one graph per shape.
  const forwardFiles = new Map<string, string>();
  const forwardFor = (feeds: WireFeeds): Promise<SessionHandle> => {
    if (!batchShapes) return frozenSession(forwardFile);
    const shapes = shapesOf(feeds);
    const same = manifest.forwardInputs.every((i) => !shapes[i.name] || shapes[i.name]!.join() === i.shape.join());
    if (same) return frozenSession(forwardFile);
    const key = JSON.stringify(shapes);
    let file = forwardFiles.get(key);
    if (!file) {
      file = path.join(artifactsDir, emitForwardFor(setup, { dir: artifactsDir, target, batchShapes: shapes }));
      forwardFiles.set(key, file);
    }
    return frozenSession(file);
  };
  return {
    trainer,
    async gradients(indices) {
      if (batchShapes && indices.length !== run.batchSize)
        throw new Error(`gradients: ${indices.length} examples, but the ${target} train step has the static shapes of ${run.batchSize}`);
      const stepSession = await frozenSession(path.join(artifactsDir, manifest.files.train_step.file));
      await trainer.syncToHost();
      const p = trainer.paramsByName();
      const feeds: WireFeeds = { ...data.batch(indices), [DROPOUT_SEED]: dropoutSeedFeed(0n) };
      for (const e of trainer.layout) feeds[e.name] = { type: 'float32', dims: e.shape, data: p.get(e.name)! };
      const out = await runner.run(stepSession, feeds);
      return {
        loss: Number(out.loss!.data[0]),
        grads: new Map(trainer.layout.map((e) => [e.name, out[`grad.${e.name}`]!.data as Float32Array])),
      };
    },
    async forward(batch, params) {
      const session = await forwardFor(batch);
      if (!params) return trainer.runWithParams(session, batch);
      const p = params;
      const feeds: WireFeeds = { ...batch };
      for (const e of trainer.layout) feeds[e.name] = { type: 'float32', dims: e.shape, data: p.get(e.name)! };
      return runner.run(session, feeds);
    },
    async close() {
      for (const s of kept.values()) await runner.release(await s);
      await trainer.close();
    },
  };
}

/**
 * Optimizer updates for a length given in epochs: enough updates to show the training rows
 * `epochs` times (at least one), so "1 epoch" of 76 images in batches of 32 is 3 updates.
 */
export function stepsForEpochs(epochs: number, trainRows: number, rowsPerUpdate: number): number {
  if (!(epochs > 0) || trainRows < 1 || rowsPerUpdate < 1)
    throw new Error(`cannot turn ${epochs} epochs of ${trainRows} rows (${rowsPerUpdate} per update) into steps`);
  return Math.max(1, Math.ceil((epochs * trainRows) / rowsPerUpdate - 1e-9));
}

/** Rows of float32 / int64 arrays as a TrainData source (`rowShape` without the batch dim). */
export function arrayData(
  tensors: Record<string, { data: Float32Array | BigInt64Array; rowShape: number[] }>,
  rows: readonly number[] | null = null,
): TrainData {
  const names = Object.keys(tensors);
  const size0 = (() => {
    const t = tensors[names[0]!]!;
    return (
      t.data.length /
      Math.max(
        1,
        t.rowShape.reduce((a, b) => a * b, 1),
      )
    );
  })();
  const map = rows ?? Array.from({ length: size0 }, (_, i) => i);
  return {
    size: map.length,
    batch(indices) {
      const feeds: WireFeeds = {};
      for (const [name, t] of Object.entries(tensors)) {
        const per = t.rowShape.reduce((a, b) => a * b, 1);
        const dims = [indices.length, ...t.rowShape];
        if (t.data instanceof Float32Array) {
          const out = new Float32Array(indices.length * per);
          indices.forEach((k, i) => out.set((t.data as Float32Array).subarray(map[k]! * per, (map[k]! + 1) * per), i * per));
          feeds[name] = { type: 'float32', dims, data: out };
        } else {
          const out = new BigInt64Array(indices.length * per);
          indices.forEach((k, i) => out.set((t.data as BigInt64Array).subarray(map[k]! * per, (map[k]! + 1) * per), i * per));
          feeds[name] = { type: 'int64', dims, data: out };
        }
      }
      return feeds;
    },
  };
}

/** Box-Muller normal from a uniform generator. */
export function normalFrom(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}
