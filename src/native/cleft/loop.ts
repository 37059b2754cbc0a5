// The training loop shared by the CLEFT workflows (prompt learning, contrastive LoRA, adaptor) on
// top of the engine's Trainer: progress callbacks, validation every N updates with early stopping
// (patience) and the best parameters kept, checkpoints every N updates and on cancel, and exact
// resumption (the Trainer's checkpoint + this loop's state in `workflow-state-<step>.json` and the
// best parameters so far in `best-<step>.safetensors`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTensors, writeFileAtomic, writeSafetensors } from '../formats/safetensors';
import type { Trainer } from '../training/index';
import { readCheckpointMeta } from '../training/index';

/** What a workflow reports after every update (and after validations). */
export interface WorkflowProgress {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  valMetrics?: Record<string, number>;
  message: string;
}

export type ProgressHook = (p: WorkflowProgress) => void | Promise<void>;

export interface CheckpointOptions {
  /** Folder for checkpoints (Trainer state + workflow state). */
  dir: string;
  /** Save every this many updates (default 0: only when cancelled and at the end). */
  every?: number;
  /** Resume from the checkpoint in `dir` when there is one (default true). */
  resume?: boolean;
}

export interface Validation {
  /** Validation loss (lower is better) and metrics, for the current parameters. */
  evaluate(): Promise<{ loss: number; metrics: Record<string, number> }>;
  /** Updates between validations (default: steps / 10, at least 1). */
  every?: number;
  /** Stop after this many validations without improvement (default: never). */
  patience?: number;
  /**
   * Whether a validation loss is a real improvement over `reference`, the loss of the last real one
   * (null at first): patience counts validations without one. Default: any lower loss. The best
   * parameters are still those of the lowest loss.
   */
  improves?: (loss: number, reference: number | null) => boolean;
}

export interface LoopResult {
  stopped: 'done' | 'early-stopped' | 'aborted';
  steps: number;
  losses: number[];
  /** Parameters to keep: the best by validation loss, or the last ones without validation. */
  params: Map<string, Float32Array>;
  bestStep: number | null;
  history: { step: number; loss: number; metrics: Record<string, number> }[];
}

const STATE_PREFIX = 'workflow-state-';
const BEST_PREFIX = 'best-';

interface LoopState {
  step: number;
  bestStep: number | null;
  bestLoss: number | null;
  badEvals: number;
  /** The validation loss of the last real improvement (with `improves`; absent in older checkpoints). */
  refLoss?: number | null;
  history: LoopResult['history'];
  losses: number[];
  stopped: boolean;
  bestFile?: string;
}

/** Whether `dir` holds a checkpoint to resume from. */
export function hasCheckpoint(dir: string | undefined): boolean {
  if (!dir) return false;
  try {
    readCheckpointMeta(dir);
    return true;
  } catch {
    return false;
  }
}

export async function runLoop(
  trainer: Trainer,
  opts: {
    steps: number;
    validation?: Validation;
    checkpoint?: CheckpointOptions;
    signal?: AbortSignal;
    onProgress?: ProgressHook;
    label: string;
    /** Return the best parameters by validation loss (default) or the last ones (validation only monitors). */
    keep?: 'best' | 'last';
  },
): Promise<LoopResult> {
  const ck = opts.checkpoint;
  let st: LoopState = { step: trainer.step, bestStep: null, bestLoss: null, badEvals: 0, history: [], losses: [], stopped: false };
  let best: Map<string, Float32Array> | null = null;
  const stateAt = (step: number) => path.join(ck!.dir, `${STATE_PREFIX}${step}.json`);
  if (ck && trainer.step > 0) {
    // the state written for the checkpoint's step (a crash between the two writes leaves a newer,
    // unused state file, never a mismatched one)
    const f = stateAt(trainer.step);
    if (!fs.existsSync(f)) throw new Error(`${ck.dir}: no workflow state for update ${trainer.step} (${path.basename(f)})`);
    st = JSON.parse(fs.readFileSync(f, 'utf8')) as LoopState;
    if (st.bestStep !== null && st.bestFile && fs.existsSync(path.join(ck.dir, st.bestFile)))
      best = new Map([...readTensors(path.join(ck.dir, st.bestFile))].map(([k, t]) => [k, t.data as Float32Array]));
  }
  const val = opts.validation;
  const evalEvery = Math.max(1, val?.every ?? Math.ceil(opts.steps / 10));
  const ckEvery = ck?.every ?? 0;

  const save = async () => {
    if (!ck) return;
    await trainer.syncToHost(); // device-resident state (WebGPU) comes to the host only here
    st.step = trainer.step;
    fs.mkdirSync(ck.dir, { recursive: true });
    if (best && st.bestStep !== null) {
      st.bestFile = `${BEST_PREFIX}${st.bestStep}.safetensors`;
      const f = path.join(ck.dir, st.bestFile);
      if (!fs.existsSync(f)) {
        const t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
        for (const e of trainer.layout) t[e.name] = { dtype: 'F32', shape: e.shape, data: best.get(e.name)! };
        writeSafetensors(f, t, { step: String(st.bestStep) });
      }
    }
    writeFileAtomic(stateAt(trainer.step), [Buffer.from(JSON.stringify(st))]);
    trainer.saveCheckpoint(ck.dir); // commits the step (checkpoint.json replaced atomically)
    for (const f of fs.readdirSync(ck.dir)) {
      const stale =
        (f.startsWith(STATE_PREFIX) && f !== `${STATE_PREFIX}${trainer.step}.json`) || (f.startsWith(BEST_PREFIX) && f !== st.bestFile);
      if (stale) fs.rmSync(path.join(ck.dir, f), { force: true });
    }
  };

  let lastLoss = NaN;
  let lastLr = 0;
  const validate = async () => {
    if (!val) return;
    const r = await val.evaluate();
    st.history.push({ step: trainer.step, loss: r.loss, metrics: r.metrics });
    const lower = st.bestLoss === null || r.loss < st.bestLoss - 1e-7;
    if (lower) {
      st.bestLoss = r.loss;
      st.bestStep = trainer.step;
      await trainer.syncToHost();
      best = trainer.paramsByName();
    }
    if (val.improves ? val.improves(r.loss, st.refLoss ?? null) : lower) {
      st.refLoss = r.loss;
      st.badEvals = 0;
    } else st.badEvals++;
    await opts.onProgress?.({
      step: trainer.step,
      totalSteps: opts.steps,
      loss: lastLoss,
      lr: lastLr,
      valMetrics: { loss: r.loss, ...r.metrics },
      message: `${opts.label}: validation at update ${trainer.step}: loss ${r.loss.toFixed(4)}`,
    });
  };

  if (val && st.history.length === 0) await validate(); // the starting point (step 0)
  let stopped: LoopResult['stopped'] = st.stopped ? 'early-stopped' : 'done';
  while (!st.stopped && trainer.step < opts.steps) {
    if (opts.signal?.aborted) {
      await save();
      stopped = 'aborted';
      break;
    }
    const info = await trainer.trainStep();
    st.losses.push(info.loss);
    lastLoss = info.loss;
    lastLr = info.lr;
    await opts.onProgress?.({
      step: info.step,
      totalSteps: opts.steps,
      loss: info.loss,
      lr: info.lr,
      message: `${opts.label}: update ${info.step}/${opts.steps}, loss ${info.loss.toFixed(4)}`,
    });
    if (val && (trainer.step % evalEvery === 0 || trainer.step === opts.steps)) {
      await validate();
      if (val.patience !== undefined && st.badEvals >= val.patience) {
        st.stopped = true;
        stopped = 'early-stopped';
      }
    }
    if (ck && ckEvery > 0 && trainer.step % ckEvery === 0) await save();
  }
  if (stopped !== 'aborted' && ck) await save();
  await trainer.syncToHost();
  const params = val && best && opts.keep !== 'last' ? best : trainer.paramsByName();
  return { stopped, steps: trainer.step, losses: st.losses, params, bestStep: val ? st.bestStep : null, history: st.history };
}
