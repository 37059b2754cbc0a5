/**
 * The training loop over the artifacts of one setup.
 *
 * State in JS: the flat trainable vector, the optimizer's state vectors (m/v or momentum), the step and
 * the data position. Per update, only the batch and the trainable tensors (views into the flat vector,
 * not copies, when running in-thread) go into train_step, and only the flat vectors go into the
 * optimizer graph; frozen weights never leave ORT.
 *
 * Gradient accumulation: k micro-batches per update, their gradients summed in JS (a plain loop over
 * Float32Arrays; for LoRA-sized vectors faster than an extra Add session, see bench/RESULTS.md) and
 * scaled by 1/k, which equals the gradient of one batch k times larger with a mean loss.
 *
 * Device-resident state (WebGPU, one micro-batch per update, an in-thread runner): the trainable
 * tensors, their gradients and the optimizer's state stay in GPU memory between train_step and the
 * per-tensor optimizer graph (optimizer.device.onnx); per update only the batch and the scalars go up
 * and the loss and gradient norm come down. The host copy is refreshed by `syncToHost()` (readback.onnx)
 * when a checkpoint or the parameters are asked for; until then `param`, `paramsByName` and
 * `saveCheckpoint` refuse. docs/engine.md#device-resident-training-state has the byte counts.
 *
 * Determinism: data order is a seeded permutation per epoch, dropout seeds derive from (seed, step,
 * micro-batch), the learning rate from the step. A checkpoint holds all of it, so a resumed run repeats
 * an uninterrupted one bit for bit (test/unit/native/training/trainer.test.ts).
 *
 * Worker-safe: nothing here assumes the main thread; the default runner creates sessions in the
 * current thread through the runtime's SessionCache (the job system runs this inside a worker).
 */
import * as path from 'node:path';
import type { EngineSessionOptions } from '../runtime/session-options';
import type { SessionPlacement } from '../runtime/session-cache';
import { f32, i64, type WireFeeds, type WireTensor } from '../runtime/tensors';
import { hostOut, loadManifest, type TrainingManifest } from './artifacts';
import { CHECKPOINT_FILE, CheckpointError, loadCheckpoint, saveCheckpoint, type CheckpointMeta } from './checkpoint';
import { paramOut, stateNames } from './optimizer';
import {
  inThreadRunner,
  isDeviceTensor,
  trafficDelta,
  type SessionHandle,
  type SessionTraffic,
  type StepFeed,
  type StepRunner,
} from './runner';
import { DataOrder, deriveSeed, learningRate, type LrSchedule } from './schedule';
import { DROPOUT_MASK, DROPOUT_SEED, dropoutMaskMismatch, dropoutSeedFeed, type TrainableEntry } from './setup';
import type { OneFrozenSession } from './one-session';

export interface TrainData {
  /** Number of examples. */
  readonly size: number;
  /** Batch inputs (the manifest's `batchInputs`) for these example indices. */
  batch(indices: readonly number[]): WireFeeds;
}

export interface StepInfo {
  /** Updates done, including this one. */
  step: number;
  /** Mean loss over the micro-batches of this update. */
  loss: number;
  lr: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** Micro-batches consumed so far. */
  microBatches: number;
  epoch: number;
  ms: number;
  /** Bytes between the host and ORT in this update, per graph (runner.ts SessionTraffic). */
  io: { train_step: SessionTraffic; optimizer: SessionTraffic };
}

export interface TrainerOptions {
  artifactsDir: string;
  data: TrainData;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches per update (default 1). */
  accumulation?: number;
  /** Run seed: data order and dropout masks (default 0). */
  seed?: number;
  shuffle?: boolean;
  schedule: LrSchedule;
  /** Global-norm clipping threshold (default: none). */
  maxGradNorm?: number;
  /** Initial values of every trainable tensor (ignored when resuming). */
  initialParams?: Record<string, Float32Array> | Map<string, Float32Array>;
  /** Default: sessions in this thread. */
  runner?: StepRunner;
  /** Threads, provider, sharedWeights (set it when other sessions map the same weights). */
  session?: EngineSessionOptions;
  /** Called after every update. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  checkpointDir?: string;
  /** Save every this many updates (and when stopped by the signal). */
  checkpointEvery?: number;
  /**
   * Keep parameters, gradients and optimizer state on the device between runs where that is possible
   * (WebGPU, accumulation 1, in-thread runner, artifacts emitted for WebGPU). Default true.
   */
  deviceState?: boolean;
  /**
   * Create forward.onnx's session at the first `forward()` call instead of up front. With bf16
   * weights cast in place every session holds its own float32 copy of the frozen weights (10 GB for
   * a 2.7B model); a run that only trains then holds one (docs/engine.md#training-memory).
   */
  forwardOnDemand?: boolean;
  /** The frozen weights forward.onnx and train_step.onnx hold (frozenWeightsId), for the engine's session counters. */
  frozenWeights?: string;
  /**
   * forward.onnx and train_step.onnx take their sessions from this holder, so at most one of them
   * is alive: `forward()` releases train_step's session and the next update creates it again
   * (one float32 copy of the frozen weights instead of two; docs/engine.md#training-memory). The
   * caller's own forward sessions should come from it too. Implies forwardOnDemand.
   */
  oneFrozenSession?: OneFrozenSession;
}

export interface TrainResult {
  steps: number;
  losses: number[];
  stopped: 'done' | 'aborted';
}

export class Trainer {
  private params: Float32Array;
  private state: Record<string, Float32Array>;
  private grads: Float32Array;
  private stepCount = 0;
  private micro = 0;
  private readonly order: DataOrder;
  private readonly accumulation: number;
  private readonly seed: number;
  private readonly floatStep: boolean;
  // Device tensors of the latest update (device-resident mode), newer than the host copy when set.
  private dev: { params: Record<string, StepFeed>; state: Record<string, StepFeed> } | null = null;

  private constructor(
    readonly manifest: TrainingManifest,
    private readonly opts: TrainerOptions,
    private readonly runner: StepRunner,
    private readonly sessions: {
      forward: SessionHandle | null;
      step: SessionHandle;
      optimizer: SessionHandle;
      readback: SessionHandle | null;
    },
    /** Why state is not kept on the device, or null when it is. */
    readonly hostStateReason: string | null,
    private readonly stepOptions: EngineSessionOptions,
  ) {
    const n = manifest.layout.total;
    this.params = new Float32Array(n);
    this.grads = new Float32Array(n);
    this.state = Object.fromEntries(stateNames(manifest.optimizer).map((k) => [k, new Float32Array(n)]));
    this.accumulation = opts.accumulation ?? 1;
    if (!Number.isInteger(this.accumulation) || this.accumulation < 1)
      throw new Error(`accumulation must be a positive integer, got ${opts.accumulation}`);
    this.seed = opts.seed ?? 0;
    this.floatStep = manifest.files.optimizer.inputs.find((i) => i.name === 'step')?.dtype === 'float32';
    this.order = new DataOrder(opts.data.size, opts.batchSize, this.seed, opts.shuffle ?? true);
  }

  /** Loads the artifacts and sessions; starts from `initialParams` or, with `resumeFrom`, a checkpoint. */
  static async create(opts: TrainerOptions & { resumeFrom?: string }): Promise<Trainer> {
    const manifest = loadManifest(opts.artifactsDir);
    const runner = opts.runner ?? inThreadRunner();
    const session = opts.session ?? {};
    const load = (f: string, deviceOutputs?: string[]) =>
      runner.load(path.join(opts.artifactsDir, f), deviceOutputs ? { ...session, deviceOutputs } : session);
    const frozen = opts.oneFrozenSession;
    // forward.onnx and train_step.onnx hold the frozen weights
    const loadFrozen = (f: string, deviceOutputs?: string[]) => {
      const o = deviceOutputs ? { ...session, deviceOutputs } : session;
      const file = path.join(opts.artifactsDir, f);
      return frozen ? frozen.take(file, o) : runner.load(file, o, opts.frozenWeights);
    };
    const reason = whyHostState(manifest, opts, runner);
    const names = manifest.layout.entries.map((e) => e.name);
    const forward = opts.forwardOnDemand || frozen ? null : await loadFrozen(manifest.files.forward.file);
    const sessions =
      reason === null
        ? {
            forward,
            step: await loadFrozen(
              manifest.files.train_step.file,
              names.map((n) => `grad.${n}`),
            ),
            optimizer: await load(manifest.files.optimizer_device!.file, [
              ...names.map(paramOut),
              ...stateNames(manifest.optimizer).map((n) => `${n}_out`),
            ]),
            readback: await load(manifest.files.readback!.file),
          }
        : {
            forward,
            step: await loadFrozen(manifest.files.train_step.file),
            optimizer: await load(manifest.files.optimizer.file),
            readback: null,
          };
    const stepOptions = reason === null ? { ...session, deviceOutputs: names.map((n) => `grad.${n}`) } : session;
    const t = new Trainer(manifest, opts, runner, sessions, reason, stepOptions);
    if (opts.resumeFrom !== undefined) t.restore(opts.resumeFrom);
    else t.initialise(opts.initialParams);
    return t;
  }

  get step(): number {
    return this.stepCount;
  }

  /** Whether parameters, gradients and optimizer state stay on the device between runs. */
  get deviceResident(): boolean {
    return this.hostStateReason === null;
  }

  /** Bytes between the host and ORT so far, per graph (readback: syncToHost). */
  get traffic(): { train_step: SessionTraffic; optimizer: SessionTraffic; readback: SessionTraffic } {
    const of = (s: SessionHandle | null) => (s ? this.runner.traffic.snapshot(s.key) : { ...ZERO });
    return { train_step: of(this.sessions.step), optimizer: of(this.sessions.optimizer), readback: of(this.sessions.readback) };
  }

  /**
   * Brings device-resident parameters and optimizer state to the host copy (one readback.onnx run);
   * nothing to do when the host copy is current.
   */
  async syncToHost(): Promise<void> {
    const dev = this.dev;
    if (!dev || this.hostCurrent) return;
    const out = await this.runner.runDevice!(this.sessions.readback!, { ...dev.params, ...dev.state });
    const host = (n: string) => {
      const t = out[hostOut(n)];
      if (!t || isDeviceTensor(t)) throw new Error(`readback.onnx: no host output '${hostOut(n)}'`);
      return t.data as Float32Array;
    };
    const params = new Float32Array(this.manifest.layout.total);
    for (const e of this.layout) params.set(host(e.name), e.offset);
    this.params = params;
    for (const n of Object.keys(this.state)) this.state[n] = host(n);
    // The host copy is current; keep feeding the device tensors (no upload on the next update).
    this.hostCurrent = true;
  }

  // False while the device holds newer parameters than the host copy.
  private hostCurrent = true;

  private requireHost(what: string): void {
    if (!this.hostCurrent)
      throw new Error(`${what}: the training state is on the device (WebGPU) and newer than the host copy: await syncToHost() first`);
  }

  /** The provider that runs each graph, and whether every node of it is on that provider. */
  get placements(): { forward: SessionPlacement; train_step: SessionPlacement; optimizer: SessionPlacement } {
    return {
      // not created yet (forwardOnDemand): the same ops without gradients, on the same provider
      forward: (this.sessions.forward ?? this.sessions.step).placement,
      train_step: this.sessions.step.placement,
      optimizer: this.sessions.optimizer.placement,
    };
  }

  get microBatches(): number {
    return this.micro;
  }

  get layout(): TrainableEntry[] {
    return this.manifest.layout.entries;
  }

  /** A copy of one trainable tensor. */
  param(name: string): Float32Array {
    this.requireHost('param');
    return this.view(this.params, this.entry(name)).slice();
  }

  /** Copies of all trainable tensors. */
  paramsByName(): Map<string, Float32Array> {
    this.requireHost('paramsByName');
    return new Map(this.layout.map((e) => [e.name, this.view(this.params, e).slice()]));
  }

  private entry(name: string): TrainableEntry {
    const e = this.layout.find((x) => x.name === name);
    if (!e) throw new Error(`no trainable tensor '${name}' (have: ${this.layout.map((x) => x.name).join(', ')})`);
    return e;
  }

  private view(v: Float32Array, e: TrainableEntry): Float32Array {
    return v.subarray(e.offset, e.offset + e.size);
  }

  private initialise(init: TrainerOptions['initialParams']): void {
    const get = (n: string) => (init instanceof Map ? init.get(n) : init?.[n]);
    const missing: string[] = [];
    for (const e of this.layout) {
      const v = get(e.name);
      if (!v) missing.push(e.name);
      else if (v.length !== e.size)
        throw new Error(`initial value of '${e.name}' has ${v.length} elements, shape [${e.shape}] needs ${e.size}`);
      else this.params.set(v, e.offset);
    }
    if (missing.length) throw new Error(`no initial value for trainable tensor(s): ${missing.join(', ')}`);
  }

  private hyperparameters(): Record<string, unknown> {
    return {
      batchSize: this.opts.batchSize,
      accumulation: this.accumulation,
      shuffle: this.opts.shuffle ?? true,
      dataSize: this.opts.data.size,
      maxGradNorm: this.opts.maxGradNorm ?? null,
      schedule: this.opts.schedule,
      ...(this.manifest.dropoutSeed ? { dropoutMask: DROPOUT_MASK } : {}),
    };
  }

  private restore(dir: string): void {
    const { meta, state } = loadCheckpoint(dir, this.manifest.layout, stateNames(this.manifest.optimizer));
    const problems: string[] = [];
    if (meta.setup !== this.manifest.name) problems.push(`setup '${meta.setup}' vs '${this.manifest.name}'`);
    if (meta.seed !== this.seed) problems.push(`seed ${meta.seed} vs ${this.seed}`);
    const hp = this.hyperparameters();
    for (const k of ['batchSize', 'accumulation', 'shuffle', 'dataSize'] as const)
      if (meta.hyperparameters[k] !== hp[k]) problems.push(`${k} ${String(meta.hyperparameters[k])} vs ${String(hp[k])}`);
    if (JSON.stringify(meta.optimizer) !== JSON.stringify(this.manifest.optimizer)) problems.push('optimizer settings differ');
    const masks = this.manifest.dropoutSeed ? dropoutMaskMismatch(meta.hyperparameters.dropoutMask) : undefined;
    if (masks) problems.push(masks);
    for (const k of ['train_step', 'optimizer'] as const)
      if (meta.artifacts[k] !== this.manifest.files[k].sha256) problems.push(`${k}.onnx changed since the checkpoint`);
    if (problems.length)
      throw new CheckpointError(`${path.join(dir, CHECKPOINT_FILE)}: cannot resume exactly (checkpoint vs now): ${problems.join('; ')}`);
    this.params = state.params;
    this.state = state.state;
    this.stepCount = meta.step;
    this.micro = meta.microBatches;
  }

  /** Writes a checkpoint of the current state (atomically). */
  saveCheckpoint(dir = this.opts.checkpointDir): CheckpointMeta {
    if (!dir) throw new Error('saveCheckpoint: no directory given and no checkpointDir option');
    this.requireHost('saveCheckpoint');
    return saveCheckpoint(
      dir,
      {
        setup: this.manifest.name,
        step: this.stepCount,
        seed: this.seed,
        microBatches: this.micro,
        hyperparameters: this.hyperparameters(),
        optimizer: this.manifest.optimizer,
        artifacts: Object.fromEntries(Object.entries(this.manifest.files).map(([k, f]) => [k, f.sha256])),
      },
      this.manifest.layout,
      { params: this.params, state: this.state },
    );
  }

  private trainableFeeds(): WireFeeds {
    const feeds: WireFeeds = {};
    for (const e of this.layout) feeds[e.name] = f32(this.view(this.params, e), e.shape);
    return feeds;
  }

  /** Scalars of the optimizer run of update `step`. */
  private optimizerScalars(step: number, lr: number): WireFeeds {
    return {
      // int64, or float32 in graphs emitted for WebGPU (manifest says which).
      step: this.floatStep ? f32(Float32Array.of(step), []) : i64(BigInt64Array.of(BigInt(step)), []),
      lr: f32(Float32Array.of(lr), []),
      max_norm: f32(Float32Array.of(this.opts.maxGradNorm ?? Infinity), []),
    };
  }

  /** The trainable tensors to feed: the device tensors of the last update, else host views. */
  private currentParams(): Record<string, StepFeed> {
    return this.dev ? { ...this.dev.params } : this.trainableFeeds();
  }

  /** One update with the state on the device: train_step, then optimizer.device, feeding device tensors. */
  private async deviceStep(t0: number): Promise<StepInfo> {
    const step = this.stepCount + 1;
    const run = this.runner.runDevice!.bind(this.runner);
    const before = this.traffic;
    const feeds: Record<string, StepFeed> = { ...this.opts.data.batch(this.order.indices(this.micro)), ...this.currentParams() };
    if (this.manifest.dropoutSeed) feeds[DROPOUT_SEED] = dropoutSeedFeed(deriveSeed(this.seed, step, 0));
    const out = await run(await this.stepSession(), feeds);
    const grads = Object.values(out).filter(isDeviceTensor);
    let res: Record<string, StepFeed>;
    let loss: number;
    try {
      loss = scalarOf(out.loss, 'loss');
      if (!Number.isFinite(loss)) throw new Error(`step ${step}: loss is ${loss} (micro-batch 0)`);
      const lr0 = learningRate(this.opts.schedule, step);
      const opt: Record<string, StepFeed> = { ...this.currentParams(), ...this.optimizerScalars(step, lr0) };
      for (const e of this.layout) opt[`grad.${e.name}`] = out[`grad.${e.name}`]!;
      for (const n of Object.keys(this.state)) opt[n] = this.dev ? this.dev.state[n]! : f32(this.state[n]!);
      res = await run(this.sessions.optimizer, opt);
    } finally {
      for (const g of grads) g.dispose();
    }
    const lr = learningRate(this.opts.schedule, step);
    const old = this.dev;
    this.dev = {
      params: Object.fromEntries(this.layout.map((e) => [e.name, res[paramOut(e.name)]!])),
      state: Object.fromEntries(Object.keys(this.state).map((n) => [n, res[`${n}_out`]!])),
    };
    if (old) disposeAll(old);
    this.hostCurrent = false;
    this.micro++;
    this.stepCount = step;
    const after = this.traffic;
    return {
      step,
      loss,
      lr,
      gradNorm: scalarOf(res.grad_norm, 'grad_norm'),
      microBatches: this.micro,
      epoch: Math.floor(this.micro / this.order.perEpoch),
      ms: performance.now() - t0,
      io: { train_step: trafficDelta(after.train_step, before.train_step), optimizer: trafficDelta(after.optimizer, before.optimizer) },
    };
  }

  /** One update: k micro-batches through train_step, gradients summed, one optimizer run. */
  async trainStep(): Promise<StepInfo> {
    const t0 = performance.now();
    if (this.deviceResident) return this.deviceStep(t0);
    const before = this.traffic;
    const step = this.stepCount + 1;
    const k = this.accumulation;
    const startMicro = this.micro;
    const g = this.grads;
    let lossSum = 0;
    try {
      const stepSession = await this.stepSession();
      for (let j = 0; j < k; j++) {
        const feeds: WireFeeds = { ...this.opts.data.batch(this.order.indices(this.micro)), ...this.trainableFeeds() };
        if (this.manifest.dropoutSeed) feeds[DROPOUT_SEED] = dropoutSeedFeed(deriveSeed(this.seed, step, j));
        const out = await this.runner.run(stepSession, feeds);
        const loss = scalarOf(out.loss, 'loss');
        if (!Number.isFinite(loss)) throw new Error(`step ${step}: loss is ${loss} (micro-batch ${j})`);
        lossSum += loss;
        for (const e of this.layout) {
          const gi = out[`grad.${e.name}`]!.data as Float32Array;
          if (j === 0) g.set(gi, e.offset);
          else for (let i = 0, o = e.offset; i < e.size; i++, o++) g[o]! += gi[i]!;
        }
        this.micro++;
      }
      if (k > 1) {
        const s = 1 / k;
        for (let i = 0; i < g.length; i++) g[i]! *= s;
      }
      const lr = learningRate(this.opts.schedule, step);
      const opt: WireFeeds = { params: f32(this.params), grads: f32(g), ...this.optimizerScalars(step, lr) };
      for (const [name, v] of Object.entries(this.state)) opt[name] = f32(v);
      const res = await this.runner.run(this.sessions.optimizer, opt);
      this.params = res.params_out!.data as Float32Array;
      for (const name of Object.keys(this.state)) this.state[name] = res[`${name}_out`]!.data as Float32Array;
      this.stepCount = step;
      return {
        step,
        loss: lossSum / k,
        lr,
        gradNorm: scalarOf(res.grad_norm, 'grad_norm'),
        microBatches: this.micro,
        epoch: Math.floor(this.micro / this.order.perEpoch),
        ms: performance.now() - t0,
        io: (() => {
          const after = this.traffic;
          return {
            train_step: trafficDelta(after.train_step, before.train_step),
            optimizer: trafficDelta(after.optimizer, before.optimizer),
          };
        })(),
      };
    } catch (e) {
      this.micro = startMicro; // a failed update consumes no data
      throw e;
    }
  }

  /**
   * Trains until `steps` updates are done in total (not additionally), checking `signal` between
   * updates. With `checkpointDir`: checkpoints every `checkpointEvery` updates, when aborted and at the end.
   */
  async train(steps: number, signal?: AbortSignal): Promise<TrainResult> {
    const losses: number[] = [];
    const every = this.opts.checkpointEvery ?? 0;
    while (this.stepCount < steps) {
      if (signal?.aborted) {
        if (this.opts.checkpointDir) {
          await this.syncToHost();
          this.saveCheckpoint();
        }
        return { steps: this.stepCount, losses, stopped: 'aborted' };
      }
      const info = await this.trainStep();
      losses.push(info.loss);
      if (this.opts.checkpointDir && every > 0 && info.step % every === 0) {
        await this.syncToHost();
        this.saveCheckpoint();
      }
      await this.opts.onStep?.(info);
    }
    await this.syncToHost();
    if (this.opts.checkpointDir && losses.length > 0 && !(every > 0 && this.stepCount % every === 0)) this.saveCheckpoint();
    return { steps: this.stepCount, losses, stopped: 'done' };
  }

  /**
   * train_step.onnx's session: the one created with the trainer, or with `oneFrozenSession` the
   * holder's (created again when a forward took its place). Same file and options: same cache key.
   */
  private async stepSession(): Promise<SessionHandle> {
    const frozen = this.opts.oneFrozenSession;
    if (!frozen) return this.sessions.step;
    return frozen.take(path.join(this.opts.artifactsDir, this.manifest.files.train_step.file), this.stepOptions);
  }

  /** Runs forward.onnx with the current trainable tensors. */
  async forward(batch: WireFeeds): Promise<Record<string, WireTensor>> {
    const file = path.join(this.opts.artifactsDir, this.manifest.files.forward.file);
    const frozen = this.opts.oneFrozenSession;
    if (frozen) return this.runWithParams(await frozen.take(file, this.opts.session ?? {}), batch);
    this.sessions.forward ??= await this.runner.load(file, this.opts.session ?? {}, this.opts.frozenWeights);
    return this.runWithParams(this.sessions.forward, batch);
  }

  /**
   * Runs a session of this trainer's runner that outputs to the host (a forward for other batch
   * shapes) on `batch` and the current trainable tensors: device-resident ones are fed as they are,
   * so an evaluation reads back no parameters.
   */
  async runWithParams(session: SessionHandle, batch: WireFeeds): Promise<Record<string, WireTensor>> {
    if (this.dev) return (await this.runner.runDevice!(session, { ...batch, ...this.dev.params })) as Record<string, WireTensor>;
    return this.runner.run(session, { ...batch, ...this.trainableFeeds() });
  }

  async close(): Promise<void> {
    if (this.dev) disposeAll(this.dev);
    this.dev = null;
    await this.opts.oneFrozenSession?.drop();
    // train_step's session may be released already (oneFrozenSession): releasing a key again does nothing
    for (const s of Object.values(this.sessions)) if (s) await this.runner.release(s);
  }
}

const ZERO: SessionTraffic = { runs: 0, hostIn: 0, hostOut: 0, deviceIn: 0, deviceOut: 0 };

function disposeAll(d: { params: Record<string, StepFeed>; state: Record<string, StepFeed> }): void {
  for (const t of [...Object.values(d.params), ...Object.values(d.state)]) if (isDeviceTensor(t)) t.dispose();
}

/** Why this run keeps its state on the host (null: it can keep it on the device). */
function whyHostState(m: TrainingManifest, opts: TrainerOptions, runner: StepRunner): string | null {
  if (opts.deviceState === false) return 'turned off (deviceState: false)';
  if (opts.session?.provider?.name !== 'webgpu') return 'onnxruntime-node 1.30 keeps outputs on the device only for WebGPU';
  if ((opts.accumulation ?? 1) !== 1) return 'gradient accumulation sums micro-batch gradients on the host';
  if (!runner.runDevice) return 'the runner moves tensors to another thread';
  if (!m.files.optimizer_device || !m.files.readback) return 'artifacts were not emitted for WebGPU';
  return null;
}

function scalarOf(t: StepFeed | undefined, name: string): number {
  if (!t || isDeviceTensor(t) || t.data.length !== 1) throw new Error(`expected a scalar output '${name}'`);
  return Number(t.data[0]);
}
