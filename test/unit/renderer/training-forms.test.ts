// The job forms' input checks and how stored metrics read in the Training and Models tables.
import { describe, expect, it } from 'vitest';
import { freeName, nameProblem, numberOfText, numberProblem, numberProblems, type NumberSpec } from '../../../src/renderer/src/lib/form';
import type { Job } from '../../../src/common/jobs';
import { describeJob } from '../../../src/renderer/src/lib/jobs';
import { formatMetric, headlineMetrics, metricLabel, withInterval } from '../../../src/renderer/src/lib/metrics';

const STEPS: NumberSpec = { label: 'Steps', min: 1, max: 100000, integer: true };
const LR: NumberSpec = { label: 'Learning rate', min: 0.00001, max: 10 };

describe('job form checks', () => {
  it("reads a text field's number (NumberField with text, Settings) the way it checks it", () => {
    expect(numberOfText(' 12 ')).toBe(12);
    expect(numberOfText('-3.5')).toBe(-3.5);
    for (const t of ['', 'many', '1e3', '4 threads', '0x10']) expect(numberOfText(t)).toBeNaN();
    const threads: NumberSpec = { label: 'Threads', min: 0, max: 256, integer: true };
    expect(numberProblem(numberOfText('999'), threads)).toBe('Threads must be between 0 and 256 (got 999)');
    expect(numberProblem(numberOfText('many'), threads)).toBe('Threads: enter a number');
    expect(numberProblem(numberOfText('4'), threads)).toBeNull();
  });

  it('names the field and the allowed range', () => {
    expect(numberProblem(200, STEPS)).toBeNull();
    expect(numberProblem(0, STEPS)).toBe('Steps must be between 1 and 100000 (got 0)');
    expect(numberProblem(2.5, STEPS)).toBe('Steps: enter a whole number');
    expect(numberProblem(null, STEPS)).toBe('Steps: enter a number'); // an emptied number input binds null
    expect(numberProblem(0.5, LR)).toBeNull();
    expect(numberProblem(11, LR)).toBe('Learning rate must be between 0.00001 and 10 (got 11)');
    expect(
      numberProblems([
        [0, STEPS],
        [0.002, LR],
        [Number.NaN, LR],
      ]),
    ).toEqual(['Steps must be between 1 and 100000 (got 0)', 'Learning rate: enter a number']);
  });

  it('accepts the names the contract accepts and explains the rule otherwise', () => {
    expect(nameProblem('site-2026.v1_b', 'Prompt set name')).toBeNull();
    expect(nameProblem('  ', 'Prompt set name')).toBe('Prompt set name: enter a name');
    expect(nameProblem('my set', 'Adaptor name')).toMatch(/^Adaptor name: use letters, digits/);
    expect(nameProblem('-lead', 'Adaptor name')).not.toBeNull();
    expect(nameProblem('x'.repeat(65), 'Adaptor name')).not.toBeNull();
  });

  it('refuses a name the bundle already holds and offers the next free one', () => {
    expect(nameProblem('site-a', 'Prompt set name', ['site-a'])).toBe(
      'Prompt set name: the bundle already has “site-a”; choose another name',
    );
    expect(nameProblem('site-b', 'Prompt set name', ['site-a'])).toBeNull();
    expect(freeName('site-a', [])).toBe('site-a');
    expect(freeName('site-a', ['site-a', 'site-a-2'])).toBe('site-a-3');
  });
});

describe('metric records in tables', () => {
  it('puts headline metrics first and leaves interval bounds and counts out of the columns', () => {
    expect(headlineMetrics(['n', 'macroAucHigh', 'macroAuc', 'zeta', 'macroAucLow', 'accuracy', 'balancedAccuracy'])).toEqual([
      'accuracy',
      'balancedAccuracy',
      'macroAuc',
      'zeta',
    ]);
    expect(metricLabel('macroAuc')).toBe('Macro AUC');
    expect(metricLabel('recall@1')).toBe('recall@1');
  });

  it('formats values with their interval when the record holds one', () => {
    expect(formatMetric('accuracy', 1)).toBe('1.000');
    expect(formatMetric('n', 20)).toBe('20');
    expect(formatMetric('loss', 2.3456)).toBe('2.35');
    expect(formatMetric('accuracy', null)).toBe('—');
    expect(withInterval({ macroAuc: 0.62, macroAucLow: 0.51, macroAucHigh: 0.74 }, 'macroAuc')).toBe('0.620 (95% CI 0.510–0.740)');
    expect(withInterval({ accuracy: 0.5 }, 'accuracy')).toBe('0.500');
  });
});

describe('training and classification jobs in the jobs list', () => {
  const job = (kind: string, params: unknown, result: unknown): Job =>
    ({
      id: 7,
      kind,
      status: 'done',
      params,
      result,
      error: null,
      progress: { fraction: 1, message: 'Done', etaSeconds: null },
      createdAt: '2026-01-01T00:00:00Z',
      startedAt: null,
      finishedAt: null,
    }) as unknown as Job;

  it('names the prompts a classification used', () => {
    const used = describeJob(job('classify', {}, { studies: 2, images: 8, runId: 3, promptSet: 'site-a' }));
    expect(used.facts).toContainEqual({ label: 'Prompts', value: 'site-a' });
    const templates = describeJob(job('classify', {}, { studies: 2, images: 8, runId: 4, promptSet: null }));
    expect(templates.facts).toContainEqual({ label: 'Prompts', value: 'task templates' });
  });

  it('describes an adaptor job by its name, kind, accuracy and run', () => {
    const d = describeJob(job('train-adaptor', { name: 'probe-1' }, { mode: 'linear-probe', metrics: { accuracy: 0.6, n: 20 }, runId: 9 }));
    expect(d).toEqual({
      title: 'Adaptor training',
      subject: 'probe-1',
      facts: [
        { label: 'Kind', value: 'linear-probe' },
        { label: 'Validation accuracy', value: '0.600' },
        { label: 'Run', value: '#9' },
      ],
    });
  });
});
