// `cleft demo --quick` end to end (phantoms -> small models from scratch -> bundle -> zero-shot ->
// prompt learning). Quick mode evaluates on 16 images of 4 test exams, far too few for a stable
// accuracy: this test checks that everything runs, that training lowers the contrastive loss, that
// the bundle opens with its prompt set and that the metrics are well formed. The full demo's figures
// (120 exams) are in docs/workflows.md.
import { describe, it, expect, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openBundle, readPromptSet } from '../../../../src/native/bundle/index';
import { demoSplitSizes } from '../../../../src/native/cleft/demo';
import { demoPlan } from '../../../../src/native/cleft/demo-work';
import { runCli } from '../../../helpers/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-demo-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('cleft demo --quick', () => {
  it('runs end to end and writes a usable bundle', { timeout: 240_000 }, async () => {
    const out = path.join(tmp, 'demo');
    const stdout = runCli(['demo', '--quick', '--output', out, '--json', '--threads', '2']);
    const r = JSON.parse(stdout) as {
      exams: { train: number; promptTrain: number; test: number };
      contrastive: { steps: number; firstLoss: number; lastLoss: number };
      zeroShot: { image: { accuracy: number; n: number; macroAuc: number | null } };
      promptLearned: { image: { accuracy: number; n: number } };
      seconds: number;
      work: { planned: Record<string, number>; done: Record<string, number> };
    };
    // progress counted the units the run did (demo-work.ts): all of each stage, prompt learning up to an early stop
    expect(r.work.planned).toEqual(demoPlan({ quick: true }).units);
    for (const [stage, units] of Object.entries(r.work.planned))
      if (stage === 'prompt') expect(r.work.done[stage]).toBeLessThanOrEqual(units);
      else expect(r.work.done[stage]).toBe(units);
    expect(r.exams.train + r.exams.promptTrain + r.exams.test).toBe(24);
    expect(r.contrastive.lastLoss).toBeLessThan(r.contrastive.firstLoss);
    for (const m of [r.zeroShot.image, r.promptLearned.image]) {
      expect(m.n).toBe(4 * r.exams.test);
      expect(m.accuracy).toBeGreaterThanOrEqual(0);
      expect(m.accuracy).toBeLessThanOrEqual(1);
    }
    const bundle = await openBundle(path.join(out, 'bundle'));
    expect(bundle.text.tokenizerDir).not.toBeNull();
    const ps = readPromptSet(bundle, 'density-demo');
    expect(ps.entry.classNames).toHaveLength(4);
    expect(ps.entry.metrics.before).not.toBeNull();
    expect(fs.existsSync(path.join(out, 'demo-report.json'))).toBe(true);

    // the bundle classifies a study of the library (cleft import + cleft classify --study)
    const exam = fs.readdirSync(path.join(out, 'phantoms'))[0]!;
    const examDir = path.join(out, 'phantoms', exam);
    const lib = path.join(tmp, 'library');
    const cli = (...args: string[]) => runCli(args);
    cli('import', examDir, '--data-dir', lib);
    const uid = (JSON.parse(fs.readFileSync(path.join(examDir, 'labels.json'), 'utf8')) as { studyInstanceUID: string }).studyInstanceUID;
    const c = JSON.parse(
      cli('classify', '--bundle', path.join(out, 'bundle'), '--task', 'Breast density', '--study', uid, '--data-dir', lib, '--json'),
    ) as {
      views: { laterality: string; probabilities: Record<string, number> }[];
      breast: Record<string, Record<string, number>>;
      exam: Record<string, number>;
      device: string;
      model: { sha256: string };
    };
    expect(c.views).toHaveLength(4);
    for (const v of c.views) expect(Object.values(v.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(Object.keys(c.breast).sort()).toEqual(['L', 'R']);
    expect(c.exam.A! + c.exam.B! + c.exam.C! + c.exam.D!).toBeCloseTo(1, 5);
    expect(c.device).toBe('cpu');
    expect(c.model.sha256).toBe(bundle.sha256);
  });

  it('splits small demos so each density has prompt and test exams when it can', () => {
    expect(demoSplitSizes(30)).toEqual({ train: 15, prompt: 8, test: 7 }); // the default demo, unchanged
    expect(demoSplitSizes(4)).toEqual({ train: 2, prompt: 1, test: 1 });
    expect(demoSplitSizes(3)).toEqual({ train: 1, prompt: 1, test: 1 }); // was 2/1/0: no test exams, NaN metrics
    expect(demoSplitSizes(2)).toEqual({ train: 1, prompt: 1, test: 0 });
  });

  it(
    '--exams 12 measures on held-out exams; --exams 8 (none held out) reports null metrics with a reason, not NaN',
    { timeout: 240_000 },
    () => {
      for (const exams of [12, 8]) {
        const out = path.join(tmp, `small-${exams}`);
        const stdout = runCli(['demo', '--quick', '--exams', String(exams), '--output', out, '--json', '--threads', '2']);
        const r = JSON.parse(stdout) as {
          exams: { test: number };
          notes: string[];
          zeroShot: { image: { accuracy: number | null; balancedAccuracy: number | null; n: number } };
          promptLearned: { image: { accuracy: number | null; n: number } };
        };
        const metrics = JSON.parse(fs.readFileSync(path.join(out, 'bundle', 'cleft-bundle.json'), 'utf8')) as {
          promptSets: { metrics: { before: Record<string, number> | null } }[];
        };
        if (exams === 12) {
          expect(r.exams.test).toBe(4);
          expect(r.zeroShot.image.n).toBe(16);
          expect(r.zeroShot.image.accuracy).toBeGreaterThanOrEqual(0);
          expect(r.notes).toEqual([]);
          expect(metrics.promptSets[0]!.metrics.before).toHaveProperty('accuracy');
        } else {
          expect(r.exams.test).toBe(0);
          expect(r.zeroShot.image).toMatchObject({ accuracy: null, balancedAccuracy: null, n: 0 });
          expect(r.promptLearned.image.accuracy).toBeNull();
          expect(r.notes.join(' ')).toMatch(/no test exams/);
          expect(metrics.promptSets[0]!.metrics.before).not.toHaveProperty('accuracy');
        }
      }
    },
  );
});
