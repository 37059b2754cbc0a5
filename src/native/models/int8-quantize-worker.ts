// Worker thread of the int8 quantization pool (models/int8-quantize.ts): quantizes every
// `threads`-th weight into its two shared slots, alternately, each once the main thread has freed it.
import { workerData } from 'node:worker_threads';
import { ModelFormatError } from '../formats/hf-folder';
import { CTRL_ABORT, CTRL_ERROR, ctrlSlot, ctrlStarted, quantizeJob, type Int8WorkerData } from './int8-quantize';

const d = workerData as Int8WorkerData;
const ctrl = new Int32Array(d.ctrl);
Atomics.store(ctrl, ctrlStarted(d.index), 1);
try {
  for (let i = d.index, t = 0; i < d.jobs.length; i += d.threads, t++) {
    const word = ctrlSlot(d.threads, d.index + d.threads * (t % 2));
    // wait until the main thread has written the slot's previous job
    for (let v = Atomics.load(ctrl, word); v !== 0; v = Atomics.load(ctrl, word)) {
      if (Atomics.load(ctrl, CTRL_ABORT)) process.exit(0);
      Atomics.wait(ctrl, word, v);
    }
    if (Atomics.load(ctrl, CTRL_ABORT)) break;
    quantizeJob(d.jobs[i]!, d.slots[t % 2]!);
    Atomics.store(ctrl, word, i + 1);
    Atomics.notify(ctrl, word);
  }
} catch (e) {
  d.port.postMessage(
    e instanceof ModelFormatError
      ? { message: e.message, file: e.file, problem: e.problem, tensor: e.tensor }
      : { message: (e as Error).message ?? String(e) },
  );
  Atomics.store(ctrl, CTRL_ERROR, 1);
  for (let s = 0; s < ctrl.length; s++) Atomics.notify(ctrl, s);
}
d.port.close();
