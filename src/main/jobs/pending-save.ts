// The write-ahead record of a job's multi-step save (tensors into the bundle, then the library's
// rows): written whole into the job's folder before the first step, so a job killed anywhere in
// the save resumes from it without training again, and finds and completes what it had done
// (every step checks for its own output first, recognised by the save's id).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensorsHeader, readTensorF32, writeSafetensors } from '../../native/formats/safetensors';

export const PENDING_SAVE_FILE = 'pending-save.safetensors';
const RECORD_KEY = 'cleft_pending_save';

export interface PendingSave<R> {
  /** Recorded with what the save writes, so a resumed save recognises its own output. */
  saveId: string;
  record: R;
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

/** Writes the pending save of a job (atomically) and returns it. */
export function writePendingSave<R>(jobDir: string, tensors: PendingSave<R>['tensors'], record: R): PendingSave<R> {
  const saveId = crypto.randomUUID();
  fs.mkdirSync(jobDir, { recursive: true });
  writeSafetensors(
    path.join(jobDir, PENDING_SAVE_FILE),
    Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data }])),
    { format: 'pt', [RECORD_KEY]: JSON.stringify({ saveId, record }) },
  );
  return { saveId, record, tensors };
}

/** The job's pending save, or null when it has not reached its save yet. */
export function readPendingSave<R>(jobDir: string): PendingSave<R> | null {
  const file = path.join(jobDir, PENDING_SAVE_FILE);
  if (!fs.existsSync(file)) return null;
  const header = readSafetensorsHeader(file);
  const raw = header.metadata?.[RECORD_KEY];
  if (raw === undefined) throw new Error(`${file}: not a pending save (no ${RECORD_KEY} metadata)`);
  const { saveId, record } = JSON.parse(raw) as { saveId: string; record: R };
  const tensors: PendingSave<R>['tensors'] = {};
  for (const [name, t] of header.tensors) tensors[name] = { shape: [...t.shape], data: readTensorF32(header, name) };
  return { saveId, record, tensors };
}
