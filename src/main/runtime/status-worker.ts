// One-shot worker thread: loads ORT, reports which execution providers work, exits. Keeps ORT
// (and any CUDA probing) out of the process that serves the UI.
import { parentPort, workerData } from 'node:worker_threads';
import { collectDoctorReport } from '../../native/runtime/doctor';

const { settingsProvider } = workerData as { settingsProvider: string };
collectDoctorReport().then(
  (report) => parentPort?.postMessage({ ok: true, report, settingsProvider }),
  (err: unknown) => parentPort?.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
);
