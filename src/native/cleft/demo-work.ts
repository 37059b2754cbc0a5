// How much work the demo is, counted in its real units (phantom exams made, images prepared,
// contrastive updates, images embedded, prompt-learning updates, the final evaluation), so its
// progress is the share of that work done and the ETA comes from the rate measured on it
// (src/common/progress.ts), not from fixed stage shares that said "5 min left" for a 1 min 45 s run.
import { stagedFraction } from '../../common/progress';

export const DEMO_STAGES = ['phantoms', 'prepare', 'contrastive', 'embed', 'prompt', 'evaluate'] as const;
export type DemoStage = (typeof DEMO_STAGES)[number];

/** Views per phantom exam (RCC, LCC, RMLO, LMLO). */
export const DEMO_VIEWS = 4;

export interface DemoPlan {
  quick: boolean;
  /** Phantom exams (a multiple of 4: balanced over densities A-D). */
  exams: number;
  steps: number;
  promptSteps: number;
  /** Units of work per stage, in DEMO_STAGES order. */
  units: Record<DemoStage, number>;
  total: number;
}

/**
 * Exams of one density for contrastive training, prompt learning and test: about 50/25/25, but
 * with three or more exams at least one for prompt learning and one for test, so small demos
 * (--exams 12) still measure something.
 */
export function demoSplitSizes(n: number): { train: number; prompt: number; test: number } {
  const a = Math.round(n / 2);
  let prompt = Math.round((n - a) / 2);
  let test = n - a - prompt;
  if (n >= 3) {
    prompt = Math.max(1, prompt);
    test = Math.max(1, test);
  }
  return { train: n - prompt - test, prompt, test };
}

/** The demo's sizes and work from its options (the one place the defaults live). */
export function demoPlan(o: { quick?: boolean; exams?: number; steps?: number; promptSteps?: number }): DemoPlan {
  const quick = o.quick ?? false;
  const exams = Math.max(8, Math.round((o.exams ?? (quick ? 24 : 120)) / 4) * 4);
  const steps = o.steps ?? (quick ? 60 : 400);
  const promptSteps = o.promptSteps ?? (quick ? 40 : 150);
  const per = demoSplitSizes(exams / 4);
  const units: Record<DemoStage, number> = {
    phantoms: exams,
    prepare: exams * DEMO_VIEWS,
    contrastive: steps,
    // the prompt-learning and test images go through the trained image encoder
    embed: 4 * (per.prompt + per.test) * DEMO_VIEWS,
    prompt: promptSteps,
    evaluate: 1,
  };
  return { quick, exams, steps, promptSteps, units, total: DEMO_STAGES.reduce((a, s) => a + units[s], 0) };
}

/**
 * Counts the work done against a plan. A stage may end short of its units (prompt learning that
 * stops early): the next stage starts after all of it, so the fraction never goes back and is 1
 * exactly when the last stage is done.
 */
export class DemoWorkMeter {
  private stage = 0;
  private inStage = 0;
  /** Units done per stage as reported (what the run did, for its report). */
  readonly done: Record<DemoStage, number> = { phantoms: 0, prepare: 0, contrastive: 0, embed: 0, prompt: 0, evaluate: 0 };

  constructor(readonly plan: DemoPlan) {}

  /** Records `done` units of `stage` (a running count) and returns the fraction of all the work. */
  at(stage: DemoStage, done: number): number {
    const i = DEMO_STAGES.indexOf(stage);
    if (i < this.stage) throw new Error(`demo progress: stage ${stage} reported after ${DEMO_STAGES[this.stage]}`);
    if (i > this.stage) {
      this.stage = i;
      this.inStage = 0;
    }
    this.inStage = Math.max(this.inStage, Math.min(done, this.plan.units[stage]));
    this.done[stage] = Math.max(this.done[stage], done);
    return this.fraction();
  }

  fraction(): number {
    return stagedFraction(
      DEMO_STAGES.map((s) => this.plan.units[s]),
      this.stage,
      this.inStage,
    );
  }
}

/**
 * The demo job's work (src/main/jobs/kinds/demo.ts): the demo's own units, then one per phantom image
 * imported into the library, one for the phantoms' labels and reports, and one for registering the
 * model, so the job says 100 % only once the model is in the library and the job is done.
 */
export const DEMO_JOB_STAGES = ['demo', 'import', 'library', 'register'] as const;
export type DemoJobStage = (typeof DEMO_JOB_STAGES)[number];

export function demoJobUnits(plan: DemoPlan): Record<DemoJobStage, number> {
  return { demo: plan.total, import: plan.exams * DEMO_VIEWS, library: 1, register: 1 };
}

/** The share of the demo job done when `done` units of `stage` are (and every stage before it). */
export function demoJobFraction(plan: DemoPlan, stage: DemoJobStage, done: number): number {
  const units = demoJobUnits(plan);
  return stagedFraction(
    DEMO_JOB_STAGES.map((s) => units[s]),
    DEMO_JOB_STAGES.indexOf(stage),
    done,
  );
}
