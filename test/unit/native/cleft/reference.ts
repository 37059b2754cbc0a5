// Reference-a fixtures for the CLEFT workflow tests (PyTorch gradients of the CLIP and prompt losses).
import * as path from 'node:path';
import { readTensors, toFloat32 } from '../../../../src/native/formats/safetensors';

export const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
export const cases = readTensors(path.join(REF, 'cases.safetensors'));
export const f32 = (k: string) => toFloat32(cases.get(k)!);
export const i64 = (k: string) => cases.get(k)!.data as BigInt64Array;
export const shapeOf = (k: string) => cases.get(k)!.shape;

/** max |a - b| / max |b| */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  let e = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(b[i]!));
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
  }
  return e / Math.max(m, 1e-30);
}

export const promptClassIds = (): number[][] => [0, 1, 2].map((c) => Array.from(i64(`prompt.class_ids.${c}`), Number));
