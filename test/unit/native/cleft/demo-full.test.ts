// The full `cleft demo` (what the README's first command and the app's first-run button run): 120
// phantom exams, a small CLEFT model trained from scratch, zero-shot density and prompt learning
// measured on 28 exams no training saw. The bar: zero-shot clearly above chance (25% on four
// balanced densities) and prompt learning improving it. The run is seeded and deterministic; about
// 80 s on 2 idle cores.
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../helpers/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-demo-full-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Metrics {
  accuracy: number;
  balancedAccuracy: number;
  macroAuc: number;
  n: number;
}

describe('cleft demo (full)', () => {
  it('zero-shot density is clearly above chance on held-out phantoms, and prompt learning improves it', { timeout: 900_000 }, () => {
    const out = path.join(tmp, 'demo');
    const stdout = runCli(['demo', '--output', out, '--json', '--threads', '2']);
    const r = JSON.parse(stdout) as {
      exams: { train: number; promptTrain: number; test: number };
      contrastive: { steps: number; firstLoss: number; lastLoss: number };
      zeroShot: { image: Metrics; exam: Metrics };
      promptLearned: { image: Metrics; exam: Metrics };
    };
    expect(r.exams).toEqual({ train: 60, promptTrain: 32, test: 28 });
    expect(r.contrastive.steps).toBe(400);
    expect(r.contrastive.lastLoss).toBeLessThan(r.contrastive.firstLoss / 2);

    const zs = r.zeroShot.image;
    const pl = r.promptLearned.image;
    expect(zs.n).toBe(4 * 28);
    expect(pl.n).toBe(4 * 28);
    // Chance is 0.25 accuracy and 0.5 AUC.
    expect(zs.accuracy).toBeGreaterThan(0.5);
    expect(zs.macroAuc).toBeGreaterThan(0.85);
    expect(pl.accuracy).toBeGreaterThan(zs.accuracy);
    expect(pl.balancedAccuracy).toBeGreaterThan(zs.balancedAccuracy);
    expect(r.promptLearned.exam.accuracy).toBeGreaterThanOrEqual(r.zeroShot.exam.accuracy);
  });
});
