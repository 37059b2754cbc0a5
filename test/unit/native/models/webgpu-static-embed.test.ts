// Embeddings on WebGPU run static-shape graphs (docs/engine.md#webgpu-coverage): the last batch is
// padded with copies of its last row and token rows are right-padded to a few lengths, so texts of
// different lengths share one graph and one session. The results must be the CPU's.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedText, paddedLength } from '../../../../src/native/models/embed';
import { readTensors } from '../../../../src/native/formats/safetensors';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import { ROOT } from '../../../helpers/cli';

const noWebgpu = await probeWebgpu();
const REF = path.join(ROOT, 'test/fixtures/reference-a');
const cases = readTensors(path.join(REF, 'cases.safetensors'));
const ids = cases.get('text.input_ids')!.data as BigInt64Array;
const lengths = cases.get('text.lengths')!.data as BigInt64Array;
const [B, T] = cases.get('text.input_ids')!.shape as [number, number];

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-static-embed-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** The reference rows with `extra` more padding columns (token 0) after each. */
function widened(extra: number): BigInt64Array {
  const out = new BigInt64Array(B * (T + extra));
  for (let r = 0; r < B; r++) out.set(ids.subarray(r * T, (r + 1) * T), r * (T + extra));
  return out;
}

describe('static-shape text embeddings', () => {
  it('pads rows to powers of two from 16, never past n_positions, never shorter than the rows', () => {
    const gpt2 = { family: 'gpt2', nPositions: 64 };
    expect([1, 7, 16, 17, 33, 64].map((s) => paddedLength(s, gpt2))).toEqual([16, 16, 16, 32, 64, 64]);
    expect(paddedLength(40, { family: 'gpt2', nPositions: 40 })).toBe(40);
    expect(paddedLength(80, gpt2)).toBe(80); // too long: the caller's n_positions check says so
  });

  it.skipIf(noWebgpu !== undefined)(
    `on WebGPU, rows of two lengths and a padded last batch share one graph and match the CPU${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const cacheDir = path.join(tmp, 'cache');
      const common = { modelDir: path.join(REF, 'gpt2'), cacheDir, lengths, batchSize: 2, onWarning: () => {} };
      const cpu = await embedText({ ...common, inputIds: ids, device: 'cpu' });
      const a = await embedText({ ...common, inputIds: ids, device: 'webgpu' });
      const b = await embedText({ ...common, inputIds: widened(3), device: 'webgpu' });
      expect(B % 2).toBe(1); // the last batch of 2 is padded
      expect(a.provider.name).toBe('webgpu');
      expect(b.artifact.path).toBe(a.artifact.path); // T and T + 3 both pad to 16 columns
      expect(b.sessionCacheHit).toBe(true);
      expect(maxDiff(a.embedding, cpu.embedding)).toBeLessThan(1e-5);
      expect(maxDiff(b.embedding, cpu.embedding)).toBeLessThan(1e-5);
      expect(a.tokens).toBe(T);
      expect(maxDiff(a.lastHidden!, cpu.lastHidden!)).toBeLessThan(1e-5);
      expect(b.tokens).toBe(T + 3);
    },
    120_000,
  );
});
