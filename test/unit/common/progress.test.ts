// The rules behind what progress claims (src/common/progress.ts), on sequences real runs produced:
// the share of the work, the time left from the rate measured lately, early stopping on a stalled
// validation loss, and divergence warnings.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addSample,
  afterValidation,
  divergence,
  divergenceMessage,
  etaSeconds,
  improves,
  stagedFraction,
  stoppingSummary,
  type ProgressSample,
  type StallState,
} from '../../../src/common/progress';
import { formatPercent } from '../../../src/renderer/src/lib/format';

const FIXTURES = path.resolve('test/fixtures/progress');
const read = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;

describe('stagedFraction: the percentage of the actual work', () => {
  it('update 135 of 4000 with every image cached is 3 %, not 23 %', () => {
    expect(formatPercent(stagedFraction([0, 4000], 1, 135))).toBe('3%');
    // The rule it replaces: a fixed 20 % for encoding whatever there was to encode.
    expect(formatPercent(0.2 + 0.75 * (135 / 4000))).toBe('23%');
  });

  it('counts each stage in its own units and never passes 1', () => {
    expect(stagedFraction([100, 300], 0, 50)).toBeCloseTo(50 / 400);
    expect(stagedFraction([100, 300], 1, 0)).toBeCloseTo(100 / 400);
    expect(stagedFraction([100, 300], 1, 300)).toBe(1);
    expect(stagedFraction([100, 300], 1, 9999)).toBe(1);
    expect(stagedFraction([0, 0], 0, 0)).toBe(0);
    expect(stagedFraction([0, 0], 2, 0)).toBe(1);
  });
});

describe('early stopping on the validation loss', () => {
  it('stops after `patience` validations without a 1 % improvement, and not before', () => {
    // A slow creep counts once it adds up to 1 % below the last real improvement.
    let creep: StallState = { reference: 0.061, stale: 0, stopped: false };
    for (const l of [0.0605, 0.0601]) creep = afterValidation(creep, l);
    expect(creep).toEqual({ reference: 0.0601, stale: 0, stopped: false });
    // Validation losses shaped like the run (accuracy already 1.000): they still fall, by less than 1 %.
    const losses = [1.386, 0.41, 0.122, 0.061, 0.0607, 0.0605, 0.0604, 0.0606, 0.0605, 0.0604];
    let s: StallState = { reference: null, stale: 0, stopped: false };
    const stoppedAt: number[] = [];
    losses.forEach((l, i) => {
      s = afterValidation(s, l, { patience: 5 });
      if (s.stopped) stoppedAt.push(i);
    });
    // 0.0607 and on are each within 1 % of 0.061: stale from the 5th validation, stopped at the 9th.
    expect(stoppedAt[0]).toBe(8);
    expect(s.reference).toBe(0.061);
  });

  it('a real improvement resets the count; a NaN loss never is one', () => {
    expect(improves(0.98, 1)).toBe(true);
    expect(improves(0.995, 1)).toBe(false);
    expect(improves(NaN, 1)).toBe(false);
    expect(improves(5, null)).toBe(true);
    let s: StallState = { reference: 1, stale: 3, stopped: false };
    s = afterValidation(s, 0.9, { patience: 4 });
    expect(s).toEqual({ reference: 0.9, stale: 0, stopped: false });
  });

  it('says where a run stopped and which update it kept', () => {
    expect(stoppingSummary({ steps: 200, stoppedEarly: true, bestStep: 40, plannedSteps: 4000 })).toBe(
      'stopped early at update 200 of 4000: validation stalled (best at update 40, kept)',
    );
    expect(stoppingSummary({ steps: 300, stoppedEarly: false, bestStep: 300 })).toBe('300 updates');
    expect(stoppingSummary({ steps: 300, stoppedEarly: false })).toBe('300 updates');
  });
});

describe('divergence', () => {
  it('warns on a LoRA loss that rose from 3.99 to 5.88, naming the best and where it rose', () => {
    // Shaped like the LoRA run (too high a learning rate): down to about 3.99, then up to 5.88.
    const losses = [
      4.61, 4.52, 4.44, 4.38, 4.31, 4.25, 4.2, 4.14, 4.1, 4.06, 4.03, 4.01, 3.99, 4.0, 3.98, 4.02, 4.05, 4.11, 4.2, 4.32, 4.45, 4.6, 4.78,
      4.95, 5.1, 5.28, 5.41, 5.55, 5.66, 5.75, 5.81, 5.88,
    ];
    const d = divergence(losses.map((loss, i) => ({ step: i + 1, loss })));
    expect(d).toMatchObject({ kind: 'rising', step: 32 });
    expect(divergenceMessage(d!)).toMatch(
      /^Training may be diverging: the training loss rose to 5\.\d\d at update 32, from its best 4\.\d\d/,
    );
  });

  it('a NaN loss (sent as lossNotFinite) is divergence at once', () => {
    expect(
      divergence([
        { step: 1, loss: 2 },
        { step: 2, loss: NaN },
      ]),
    ).toEqual({ kind: 'non-finite', step: 2 });
  });

  it('a LoRA loss pinned at chance (ln of the batch) is a collapse: real runs at learning rate 10', () => {
    // Recorded from real LoRA runs on the demo phantoms (test/e2e/web/divergence.spec.ts), rounded as logged.
    const b4 = [2.68, 2.99, 2.04, 1.38, ...Array<number>(36).fill(Math.log(4))];
    const d = divergence(
      b4.map((loss, i) => ({ step: i + 1, loss })),
      {},
      { chanceLoss: Math.log(4) },
    );
    expect(d).toEqual({ kind: 'collapsed', step: 40, loss: Math.log(4), since: 5 });
    expect(divergenceMessage(d!)).toBe(
      'Training collapsed: the loss has stayed at chance (1.39) since update 5: every input scores the same. The learning rate is far too high; lower it and start again.',
    );
    // Without the chance level the falling curve says nothing (it fell, then stayed).
    expect(divergence(b4.map((loss, i) => ({ step: i + 1, loss })))).toBeNull();
    // A run at learning rate 0.01, batch 32, that learns below chance (ln 32 = 3.47): quiet.
    const learning = [
      5.03, 4.04, 3.93, 3.39, 3.12, 3.63, 3.4, 3.28, 3.27, 3.34, 3.33, 3.17, 3.17, 3.1, 3.13, 3.09, 3.01, 3.01, 3.03, 3.1, 2.99, 3.08, 2.87,
      3.07, 2.94, 2.88, 3.0, 2.88, 2.86, 3.08,
    ];
    expect(
      divergence(
        learning.map((loss, i) => ({ step: i + 1, loss })),
        {},
        { chanceLoss: Math.log(32) },
      ),
    ).toBeNull();
    // A run that converged to a flat loss away from chance: quiet.
    const flat = Array.from({ length: 30 }, (_, i) => ({ step: i + 1, loss: i < 10 ? 2 - i / 10 : 0.9 }));
    expect(divergence(flat, {}, { chanceLoss: Math.log(32) })).toBeNull();
  });

  it('stays quiet on noisy but falling curves and on losses near zero', () => {
    const noisy = Array.from({ length: 200 }, (_, i) => ({ step: i + 1, loss: 3 * Math.exp(-i / 50) + 0.3 * Math.sin(i * 1.7) ** 2 }));
    expect(divergence(noisy)).toBeNull();
    const tiny = Array.from({ length: 40 }, (_, i) => ({ step: i + 1, loss: i < 20 ? 0.001 : 0.004 }));
    expect(divergence(tiny)).toBeNull();
  });
});

interface Recorded {
  samples: { t: number; fraction: number; stage: string; loss?: number }[];
}

describe('on a real run: the quick demo (test/fixtures/progress/quick-demo.json)', () => {
  const run = read<Recorded>('quick-demo.json').samples;
  const end = run.at(-1)!.t;

  it('gives no ETA before a rate was measured, never a negative one, and a close one near the end', () => {
    const seen: ProgressSample[] = [{ t: 0, fraction: 0 }];
    for (const s of run.slice(0, -1)) {
      addSample(seen, s);
      const eta = etaSeconds([...seen, s]);
      if (s.t < 3000) expect(eta).toBeNull();
      if (eta !== null) expect(eta).toBeGreaterThanOrEqual(0);
      // The last 10 s (prompt learning, then the save): within 6 s of the time really left.
      if (eta !== null && end - s.t < 10_000) expect(Math.abs(eta - (end - s.t) / 1000)).toBeLessThan(6);
    }
  });

  it('counted in its units of work, never claims much more time than is left', () => {
    // With the old fixed stage shares the same rule said 3.6 times the time really left (180 s for
    // 50 s); counted in phantoms, images, updates and evaluation (demo-work.ts) it stays near 2 at
    // worst (the phantoms, its slowest units, come first), and the fraction only goes up.
    const seen: ProgressSample[] = [{ t: 0, fraction: 0 }];
    let worst = 0;
    for (const [i, s] of run.slice(0, -1).entries()) {
      if (i > 0) expect(s.fraction).toBeGreaterThanOrEqual(run[i - 1]!.fraction);
      addSample(seen, s);
      const eta = etaSeconds([...seen, s]);
      if (eta !== null) worst = Math.max(worst, eta / ((end - s.t) / 1000));
    }
    expect(run.at(-1)!.fraction).toBe(1);
    expect(worst).toBeLessThan(2.5);
  });

  it('raises no divergence warning on its contrastive loss curve, and would on the same curve gone NaN', () => {
    const curve = run.filter((s) => s.loss !== undefined).map((s, i) => ({ step: i + 1, loss: s.loss! }));
    expect(curve.length).toBeGreaterThan(50);
    expect(divergence(curve)).toBeNull();
    expect(divergence([...curve, { step: curve.length + 1, loss: NaN }])).toEqual({ kind: 'non-finite', step: curve.length + 1 });
  });
});

describe('etaSeconds: time left from the rate measured lately', () => {
  it('needs a measured rate before it says anything', () => {
    expect(etaSeconds([])).toBeNull();
    expect(
      etaSeconds([
        { t: 0, fraction: 0 },
        { t: 1000, fraction: 0.5 },
      ]),
    ).toBeNull(); // under 3 s of measurement
    expect(
      etaSeconds([
        { t: 0, fraction: 0 },
        { t: 10_000, fraction: 0.005 },
      ]),
    ).toBeNull(); // under 1 % of progress
    expect(
      etaSeconds([
        { t: 0, fraction: 0 },
        { t: 10_000, fraction: 0.5 },
      ]),
    ).toBeCloseTo(10);
  });

  it('uses the last minute, not the average since the start', () => {
    // A slow first stage (10 % in 60 s), then 1 % per second.
    const samples: ProgressSample[] = [{ t: 0, fraction: 0 }];
    for (let s = 1; s <= 60; s++) samples.push({ t: s * 1000, fraction: 0.1 * (s / 60) });
    for (let s = 1; s <= 70; s++) samples.push({ t: 60_000 + s * 1000, fraction: 0.1 + 0.01 * s });
    // 20 % left at 1 % per second: 20 s (since the start it would claim 130 s / 0.8 × 0.2 = 32.5 s).
    expect(etaSeconds(samples)).toBeCloseTo(20, 0);
  });
});
