/**
 * Quantizing a model's matmul weights for the int8 path (models/weights.ts writes the results into
 * the .q8.bin in order): one weight at a time in this thread, or, for big models, in worker threads
 * that quantize the next weights while this thread writes the current one.
 *
 * The callers are synchronous (bindWeights), so the pool is driven through shared memory: each
 * worker quantizes every `threads`-th weight into one of its two slots (SharedArrayBuffers) and
 * marks the slot ready; this thread waits on the mark (Atomics.wait), hands the slot's bytes to the
 * writer and frees it. Errors come back synchronously (receiveMessageOnPort). The workers are
 * unref'd and terminated when the generator ends, normally, on an error or when its consumer stops.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { ModelFormatError, readWeightBytes, readWeightF32, type WeightRef } from '../formats/hf-folder';
import { quantizeStored, type QuantTarget, type StoredWeight } from '../graph/ops/quant';
import { startThread } from '../runtime/start-thread';

/** One matmul weight to quantize: W [n, k] stored as 'in-out' [k, n] (GPT-2 Conv1D) or 'out-in' [n, k]. */
export interface Int8Job {
  name: string;
  ref: WeightRef;
  layout: 'in-out' | 'out-in';
  n: number;
  k: number;
  blockSize: number;
  /** Also Wᵀ [k, n] quantized (blocks along n). */
  backward: boolean;
}

/** A job's results: the forward quantization and, with `backward`, the transposed one. */
export type Int8Result = readonly { q: Uint8Array; scales: Float32Array }[];

/** Buffers one weight is quantized into (reused from weight to weight). */
export interface Int8Slot {
  raw: Uint8Array;
  fq: Uint8Array;
  fs: Float32Array;
  bq: Uint8Array;
  bs: Float32Array;
}

interface SlotSizes {
  raw: number;
  fq: number;
  fs: number;
  bq: number;
  bs: number;
}

const kb = (j: Int8Job, k: number) => Math.ceil(k / j.blockSize);

function slotSizes(jobs: readonly Int8Job[], asBits: (j: Int8Job) => boolean): SlotSizes {
  const most = (f: (j: Int8Job) => number) => jobs.reduce((a, j) => Math.max(a, f(j)), 0);
  return {
    raw: most((j) => (asBits(j) ? j.ref.byteLength : 0)),
    fq: most((j) => j.n * kb(j, j.k) * j.blockSize),
    fs: most((j) => j.n * kb(j, j.k)),
    bq: most((j) => (j.backward ? j.k * kb(j, j.n) * j.blockSize : 0)),
    bs: most((j) => (j.backward ? j.k * kb(j, j.n) : 0)),
  };
}

function makeSlot(s: SlotSizes, shared: boolean): Int8Slot {
  const buf = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  return {
    raw: new Uint8Array(buf(s.raw)),
    fq: new Uint8Array(buf(s.fq)),
    fs: new Float32Array(buf(s.fs * 4)),
    bq: new Uint8Array(buf(s.bq)),
    bs: new Float32Array(buf(s.bs * 4)),
  };
}

/** BF16 weights are quantized from their bits; the others (and LoRA-merged ones) from float32. */
const readsBits = (j: Int8Job) => j.ref.dtype === 'BF16';

/**
 * Reads and quantizes one weight into `slot`. `transform` (the LoRA merge) is applied to the float32
 * values first. A non-finite value is refused naming the file, the weight and the block.
 */
export function quantizeJob(j: Int8Job, slot: Int8Slot, transform?: (ref: WeightRef, data: Float32Array) => Float32Array): Int8Result {
  const [r, c] = j.ref.shape as [number, number];
  let src: StoredWeight;
  if (readsBits(j) && !transform) {
    readWeightBytes(j.ref, slot.raw);
    src = { bf16: new Uint16Array(slot.raw.buffer, 0, r * c) };
  } else {
    const data = readWeightF32(j.ref);
    src = { f32: transform ? transform(j.ref, data) : data };
  }
  // the forward quantizes W [n, k] along k: 'in-out' stores its transpose
  const fwdAlong = j.layout === 'in-out' ? 'cols' : 'rows';
  const targets: QuantTarget[] = [
    { along: fwdAlong, q: slot.fq.subarray(0, j.n * kb(j, j.k) * j.blockSize), scales: slot.fs.subarray(0, j.n * kb(j, j.k)) },
  ];
  if (j.backward)
    targets.push({
      along: fwdAlong === 'cols' ? 'rows' : 'cols',
      q: slot.bq.subarray(0, j.k * kb(j, j.n) * j.blockSize),
      scales: slot.bs.subarray(0, j.k * kb(j, j.n)),
    });
  try {
    quantizeStored(src, r, c, targets, j.blockSize);
  } catch (e) {
    throw new ModelFormatError(j.ref.file, `weight ${j.name}: ${(e as Error).message}`, j.ref.sourceName);
  }
  return targets;
}

/** Below this many weight values a model is quantized in this thread (starting workers costs ~0.5 s). */
export const INT8_WORKER_MIN_VALUES = 1 << 26;

/** Threads that quantize a model of `values` matmul weight values by default: up to 2 workers on a big model. */
export function defaultInt8Threads(values: number): number {
  return values >= INT8_WORKER_MIN_VALUES ? Math.min(2, os.availableParallelism()) : 0;
}

/**
 * Each job's results in order; a result's buffers are valid until the generator resumes. `threads`
 * 0 quantizes here; n >= 1 uses n worker threads (when their entry is found; else here). Jobs with a
 * `transform` run here.
 */
export function* quantizedWeights(
  jobs: readonly Int8Job[],
  threads: number,
  transform?: { names: ReadonlySet<string>; apply: (ref: WeightRef, data: Float32Array) => Float32Array },
): Generator<Int8Result> {
  const entry = threads > 0 && !jobs.some((j) => transform?.names.has(j.name)) ? workerEntry() : null;
  if (!entry) {
    const slot = makeSlot(
      slotSizes(jobs, (j) => readsBits(j) && !transform?.names.has(j.name)),
      false,
    );
    for (const j of jobs) yield quantizeJob(j, slot, transform?.names.has(j.name) ? transform.apply : undefined);
    return;
  }
  yield* pooled(jobs, threads, entry);
}

/** The worker entry beside this module: .ts from sources, the bundle's .js; null when absent. */
function workerEntry(): string | null {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  const candidates = here.endsWith('.ts')
    ? [path.join(dir, 'int8-quantize-worker.ts')]
    : [path.join(dir, 'int8-quantize-worker.js'), path.join(dir, '..', 'int8-quantize-worker.js')];
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}

/** Shared control words: the error and abort flags, per worker started, per slot 0 (free) or job index + 1 (ready). */
export const CTRL_ERROR = 0;
export const CTRL_ABORT = 1;
export const ctrlStarted = (worker: number) => 2 + worker;
export const ctrlSlot = (threads: number, slot: number) => 2 + threads + slot;

export interface Int8WorkerData {
  jobs: Int8Job[];
  /** This worker's index and the number of workers: it does jobs index, index + threads, ... */
  index: number;
  threads: number;
  /** Its two slots (SharedArrayBuffers): job index + threads * t goes to slot t % 2. */
  slots: Int8Slot[];
  /** Int32Array over a SharedArrayBuffer (the words above). */
  ctrl: SharedArrayBuffer;
  /** Where it posts its error (read synchronously here). */
  port: MessagePort;
}

/** How long this thread waits on a worker before it checks for errors again. */
const WAIT_MS = 200;
/** A worker that has not started after this long (its module failed to load) fails the quantization. */
const START_MS = 120_000;

function* pooled(jobs: readonly Int8Job[], threads: number, entry: string): Generator<Int8Result> {
  const sizes = slotSizes(jobs, readsBits);
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * (2 + 3 * threads)));
  const slots = Array.from({ length: 2 * threads }, () => makeSlot({ ...sizes, raw: 0 }, true));
  // one read buffer per worker, shared by its two slots (it quantizes one weight at a time)
  for (let w = 0; w < threads; w++) slots[w]!.raw = slots[w + threads]!.raw = new Uint8Array(new SharedArrayBuffer(sizes.raw));
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  const failure = (): Error => {
    for (const p of ports) {
      const m = receiveMessageOnPort(p)?.message as { message: string; file?: string; problem?: string; tensor?: string } | undefined;
      if (m) return m.file !== undefined ? new ModelFormatError(m.file, m.problem!, m.tensor) : new Error(m.message);
    }
    return new Error('int8 quantization: a worker failed without a message');
  };
  const t0 = Date.now();
  try {
    for (let w = 0; w < threads; w++) {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1);
      const data: Int8WorkerData = {
        jobs: [...jobs],
        index: w,
        threads,
        slots: [slots[w]!, slots[w + threads]!],
        ctrl: ctrl.buffer as SharedArrayBuffer,
        port: port2,
      };
      const worker = startThread(entry, { workerData: data, transferList: [port2], name: `cleft-int8-${w}` });
      worker.unref();
      workers.push(worker);
    }
    for (let i = 0; i < jobs.length; i++) {
      // job i: worker i % threads, in its slot floor(i / threads) % 2
      const s = (i % threads) + threads * (Math.floor(i / threads) % 2);
      const word = ctrlSlot(threads, s);
      for (;;) {
        if (Atomics.load(ctrl, CTRL_ERROR)) throw failure();
        const v = Atomics.load(ctrl, word);
        if (v === i + 1) break;
        if (Date.now() - t0 > START_MS && workers.some((_, w) => !Atomics.load(ctrl, ctrlStarted(w))))
          throw new Error(`int8 quantization: a worker thread did not start within ${START_MS / 1000} s (${entry})`);
        Atomics.wait(ctrl, word, v, WAIT_MS);
      }
      const b = slots[s]!;
      const j = jobs[i]!;
      const out = [{ q: b.fq.subarray(0, j.n * kb(j, j.k) * j.blockSize), scales: b.fs.subarray(0, j.n * kb(j, j.k)) }];
      if (j.backward) out.push({ q: b.bq.subarray(0, j.k * kb(j, j.n) * j.blockSize), scales: b.bs.subarray(0, j.k * kb(j, j.n)) });
      yield out;
      Atomics.store(ctrl, word, 0);
      Atomics.notify(ctrl, word);
    }
  } finally {
    Atomics.store(ctrl, CTRL_ABORT, 1);
    for (let s = 0; s < ctrl.length; s++) Atomics.notify(ctrl, s);
    for (const w of workers) void w.terminate();
    for (const p of ports) p.close();
  }
}
