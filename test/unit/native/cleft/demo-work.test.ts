// The demo's progress is the share of its real units of work (demo-work.ts): the plan for --quick
// and the full demo, and the meter's fraction over a run (monotone, 1 exactly at the end, also when
// prompt learning stops early). That a real run does these units is checked by demo.test.ts
// (work.done against work.planned of `cleft demo --quick --json`). The demo job adds importing the
// phantoms, their labels and reports, and registering the model: 100 % only once that is done.
import { describe, expect, it } from 'vitest';
import {
  DEMO_JOB_STAGES,
  DEMO_STAGES,
  DemoWorkMeter,
  demoJobFraction,
  demoJobUnits,
  demoPlan,
} from '../../../../src/native/cleft/demo-work';

describe('demo work accounting', () => {
  it('counts phantoms, images prepared, updates, images embedded and the evaluation for --quick and full', () => {
    // quick: 24 exams, 6 per density split 3/2/1: (2 + 1) * 4 densities * 4 views embedded
    expect(demoPlan({ quick: true }).units).toEqual({ phantoms: 24, prepare: 96, contrastive: 60, embed: 48, prompt: 40, evaluate: 1 });
    // full: 120 exams, 30 per density split 15/8/7
    expect(demoPlan({}).units).toEqual({ phantoms: 120, prepare: 480, contrastive: 400, embed: 240, prompt: 150, evaluate: 1 });
    const custom = demoPlan({ exams: 13, steps: 5, promptSteps: 3 });
    expect(custom.exams).toBe(12);
    expect(custom.units).toEqual({ phantoms: 12, prepare: 48, contrastive: 5, embed: 32, prompt: 3, evaluate: 1 });
    expect(custom.total).toBe(12 + 48 + 5 + 32 + 3 + 1);
  });

  it('is monotone over a run, 1 exactly at the end, and skips what early stopping did not do', () => {
    const plan = demoPlan({ quick: true });
    const meter = new DemoWorkMeter(plan);
    const fractions: number[] = [];
    for (const stage of DEMO_STAGES) {
      // prompt learning stops early at 25 of 40 updates
      const last = stage === 'prompt' ? 25 : plan.units[stage];
      for (let done = 0; done <= last; done++) fractions.push(meter.at(stage, done));
    }
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions.slice(0, -1).every((f) => f < 1)).toBe(true);
    // the old fixed shares said 0.77 at the start of zero-shot; the work done by then is 180/269
    const m = new DemoWorkMeter(plan);
    expect(m.at('embed', 0)).toBeCloseTo((24 + 96 + 60) / plan.total, 10);
    expect(meter.done.prompt).toBe(25);
    expect(() => meter.at('phantoms', 1)).toThrow(/reported after/);
  });

  it('the demo job reaches 100 % only when the model is registered, not when the demo or import ends', () => {
    const plan = demoPlan({ quick: true });
    const units = demoJobUnits(plan);
    // 96 phantom images imported, one step for labels and reports, one for registering the model
    expect(units).toEqual({ demo: plan.total, import: 96, library: 1, register: 1 });
    const total = plan.total + 96 + 1 + 1;
    expect(demoJobFraction(plan, 'demo', plan.total)).toBeCloseTo(plan.total / total, 12);
    expect(demoJobFraction(plan, 'import', 96)).toBeLessThan(1);
    expect(demoJobFraction(plan, 'library', 1)).toBeLessThan(1);
    // what the job says while it registers the model ("Registering the demo model…")
    expect(demoJobFraction(plan, 'register', 0)).toBeCloseTo((total - 1) / total, 12);
    expect(demoJobFraction(plan, 'register', 1)).toBe(1);
    // monotone over the whole job, and below 1 until the last unit
    const fractions: number[] = [];
    for (const stage of DEMO_JOB_STAGES)
      for (let done = 0; done <= units[stage]; done++) fractions.push(demoJobFraction(plan, stage, done));
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(fractions.slice(0, -1).every((f) => f < 1)).toBe(true);
    expect(fractions.at(-1)).toBe(1);
  });
});
