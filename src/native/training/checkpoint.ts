/**
 * Checkpoints: a safetensors file with the trainable tensors (`param.<name>`) and the optimizer moments
 * (`m.<name>`, `v.<name>` or `momentum.<name>`), and `checkpoint.json` with the step, the seed, the data
 * position, the hyperparameters, the artifact hashes and the sha256 of the tensor file.
 *
 * Atomicity: the tensors go to a new `state-<step>.safetensors` (tmp + fsync + rename), then
 * `checkpoint.json` is replaced the same way, then older state files are removed. A crash at any
 * point leaves the previous checkpoint readable. Loading verifies the sha256 (corruption) and every
 * name, dtype and shape against the setup (a checkpoint of another setup), with messages that say
 * which file and tensor.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  readSafetensorsHeader,
  readTensors,
  SafetensorsError,
  writeFileAtomic,
  writeSafetensors,
  type TensorInput,
} from '../formats/safetensors';
import { sha256Hex, type TrainingManifest } from './artifacts';
import type { ParamLayout } from './setup';

export const CHECKPOINT_FILE = 'checkpoint.json';
export const CHECKPOINT_FORMAT = 'cleft-training-checkpoint';

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  setup: string;
  /** Updates applied so far. */
  step: number;
  seed: number;
  /** Micro-batches consumed so far (the data-order position). */
  microBatches: number;
  /** Whatever the trainer needs to repeat the run (batch size, accumulation, schedule, clipping ...). */
  hyperparameters: Record<string, unknown>;
  optimizer: TrainingManifest['optimizer'];
  /** sha256 of forward/train_step/optimizer .onnx. */
  artifacts: Record<string, string>;
  layout: { name: string; shape: number[] }[];
  tensors: { file: string; sha256: string; bytes: number };
  savedAt: string;
}

export interface CheckpointState {
  params: Float32Array;
  /** Optimizer state vectors by name ('m', 'v' | 'momentum'), each [N]. */
  state: Record<string, Float32Array>;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const view = (v: Float32Array, e: { offset: number; size: number }) => v.subarray(e.offset, e.offset + e.size);

export function saveCheckpoint(
  dir: string,
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'tensors' | 'savedAt' | 'layout'>,
  layout: ParamLayout,
  s: CheckpointState,
): CheckpointMeta {
  fs.mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, TensorInput>();
  for (const e of layout.entries) {
    tensors.set(`param.${e.name}`, { dtype: 'F32', shape: e.shape, data: view(s.params, e) });
    for (const [k, vec] of Object.entries(s.state)) tensors.set(`${k}.${e.name}`, { dtype: 'F32', shape: e.shape, data: view(vec, e) });
  }
  const file = `state-${meta.step}.safetensors`;
  const full = path.join(dir, file);
  writeSafetensors(full, tensors, { format: 'pt', producer: 'cleft-studio', step: String(meta.step) });
  const bytes = fs.readFileSync(full);
  const out: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: 1,
    ...meta,
    layout: layout.entries.map((e) => ({ name: e.name, shape: e.shape })),
    tensors: { file, sha256: sha256Hex(bytes), bytes: bytes.length },
    savedAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(dir, CHECKPOINT_FILE), [new TextEncoder().encode(JSON.stringify(out, null, 1))]);
  for (const f of fs.readdirSync(dir)) if (/^state-\d+\.safetensors$/.test(f) && f !== file) fs.rmSync(path.join(dir, f), { force: true });
  return out;
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  const file = path.join(dir, CHECKPOINT_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${file}: no checkpoint here (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(text) as CheckpointMeta;
  } catch (e) {
    throw new CheckpointError(`${file}: the checkpoint metadata is corrupted (not JSON: ${(e as Error).message})`);
  }
  if (meta?.format !== CHECKPOINT_FORMAT || meta.version !== 1)
    throw new CheckpointError(`${file}: not a version-1 ${CHECKPOINT_FORMAT} file`);
  if (!Number.isInteger(meta.step) || !Number.isInteger(meta.microBatches) || !meta.tensors?.file || !Array.isArray(meta.layout))
    throw new CheckpointError(`${file}: the checkpoint metadata is incomplete (step, microBatches, tensors, layout)`);
  return meta;
}

/**
 * Reads a checkpoint for `layout` and the optimizer's `stateNames`, refusing corrupted files and
 * mismatched names or shapes with a message that says what differs.
 */
export function loadCheckpoint(
  dir: string,
  layout: ParamLayout,
  stateNames: readonly string[],
): { meta: CheckpointMeta; state: CheckpointState } {
  const meta = readCheckpointMeta(dir);
  const file = path.join(dir, path.basename(meta.tensors.file));
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new CheckpointError(
      `${file}: the checkpoint's tensor file is missing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const h = sha256Hex(bytes);
  if (h !== meta.tensors.sha256)
    throw new CheckpointError(
      `${file}: the checkpoint is corrupted: sha256 ${h.slice(0, 16)}… differs from ${meta.tensors.sha256.slice(0, 16)}… recorded in ${CHECKPOINT_FILE} (${bytes.length} bytes, ${meta.tensors.bytes} expected)`,
    );

  const problems: string[] = [];
  const want = new Map(layout.entries.map((e) => [e.name, e]));
  for (const l of meta.layout) {
    const e = want.get(l.name);
    if (!e) problems.push(`'${l.name}' is in the checkpoint but not trainable in this setup`);
    else if (e.shape.join(',') !== l.shape.join(','))
      problems.push(`'${l.name}' has shape [${l.shape}] in the checkpoint, the setup expects [${e.shape}]`);
  }
  for (const e of layout.entries)
    if (!meta.layout.some((l) => l.name === e.name))
      problems.push(`'${e.name}' is trainable in this setup but missing from the checkpoint`);
  if (problems.length) throw new CheckpointError(`${dir}: the checkpoint does not match the setup: ${problems.join('; ')}`);

  let header;
  try {
    header = readSafetensorsHeader(file);
  } catch (e) {
    throw new CheckpointError(`the checkpoint is corrupted: ${e instanceof SafetensorsError ? e.message : String(e)}`);
  }
  const params = new Float32Array(layout.total);
  const state: Record<string, Float32Array> = {};
  for (const k of stateNames) state[k] = new Float32Array(layout.total);
  const tensors = readTensors(header);
  for (const e of layout.entries) {
    for (const [prefix, target] of [['param', params] as const, ...Object.entries(state)]) {
      const name = `${prefix}.${e.name}`;
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(`${file}: tensor '${name}' is missing (saved with another optimizer?)`);
      if (t.dtype !== 'F32' || t.shape.join(',') !== e.shape.join(','))
        throw new CheckpointError(`${file}: tensor '${name}' is ${t.dtype}[${t.shape}], the setup expects F32[${e.shape}]`);
      target.set(t.data as Float32Array, e.offset);
    }
  }
  return { meta, state: { params, state } };
}
