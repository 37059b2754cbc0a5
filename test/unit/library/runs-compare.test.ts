// runs.compare: runs of a task side by side, each on its own labelled targets and all on the targets
// they share, checked against the predictions themselves.
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoJobResult } from '../../../src/common/jobs';
import { openBundle } from '../../../src/native/bundle/index';
import { callApi } from '../../helpers/api';
import { runCli } from '../../helpers/cli';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

afterAll(removeTmpDirs);

describe('runs.compare', () => {
  it('measures every run on the targets all of them predicted, and each on its own', async () => {
    const dataDir = tmpDir();
    const b = testBackend(dataDir);
    try {
      const demo = await b.jobs.waitFor((await callApi(b, 'demo.start', { quick: true })).id);
      expect(demo.error).toBeNull();
      const density = (await callApi(b, 'tasks.list', {})).find((t) => t.name === 'Breast density')!;
      const studies = (await callApi(b, 'library.studies', {})).rows;
      const all = studies.map((s) => s.id);
      // The demo's manifest names the exams its bundle and prompt set trained on: held out by default
      // are the others, so the runs are compared on three of those.
      const manifest = (await openBundle((demo.result as DemoJobResult).bundleDir, { verify: 'sizes' })).manifest;
      const splitOf = (t: Record<string, unknown> | null | undefined) => t!.split as { trainStudies: string[]; valStudies: string[] };
      const bundleSeen = new Set(splitOf(manifest.training).trainStudies);
      const prompt = splitOf(manifest.promptSets.find((p) => p.name === 'density-demo')!.training);
      const seen = new Set([...bundleSeen, ...prompt.trainStudies, ...prompt.valStudies]);
      const some = studies
        .filter((s) => !seen.has(s.studyUid))
        .map((s) => s.id)
        .slice(0, 3);
      expect(some).toHaveLength(3);
      const wideHeldOut = studies.filter((s) => !bundleSeen.has(s.studyUid)).length;
      const classify = async (studyIds: number[], promptSet: string | null) => {
        const job = await b.jobs.waitFor((await callApi(b, 'classify.start', { taskId: density.id, studyIds, promptSet })).id);
        expect(job.error).toBeNull();
        return (job.result as { runId: number }).runId;
      };
      const wide = await classify(all, null);
      const narrow = await classify(some, 'density-demo');

      const c = await callApi(b, 'runs.compare', { taskId: density.id, scope: 'breast', bootstrapSamples: 50 });
      expect(c.rows.map((r) => r.run.id)).toEqual([narrow, wide]); // newest first
      expect(c.commonTargets).toBe(2 * some.length); // the demo labels both breasts of every study
      const row = (id: number) => c.rows.find((r) => r.run.id === id)!;
      expect(row(wide).own!.n).toBe(2 * wideHeldOut);
      expect(row(narrow).own!.n).toBe(2 * some.length);
      expect(row(wide).common!.n).toBe(2 * some.length);
      expect(row(narrow).common).toEqual(row(narrow).own);

      // The wide run on the shared targets: its accuracy counted from its own predictions.
      const preds = (
        await callApi(b, 'runs.predictions', { runId: wide, filter: { scope: 'breast' }, limit: 1000, offset: 0 })
      ).rows.filter((p) => some.includes(p.studyId));
      expect(preds).toHaveLength(2 * some.length);
      const correct = preds.filter((p) => p.predictedClass === p.label).length;
      expect(row(wide).common!.accuracy.estimate).toBeCloseTo(correct / preds.length, 12);
      // Its own figure is what runs.evaluate reports for it.
      const report = await callApi(b, 'runs.evaluate', { runId: wide, scope: 'breast', bootstrapSamples: 50 });
      expect(row(wide).own!.accuracy.estimate).toBe(report.accuracy!.estimate);
      expect(row(wide).own!.macroAuc?.estimate).toBe(report.macroAuc?.estimate);

      // The CLI gives the same comparison (same code, same seed), and lists the runs.
      const cli = JSON.parse(
        runCli(['runs', 'compare', '--task', 'breast density', '--bootstrap', '50', '--json'], { dataDir }),
      ) as typeof c;
      const figures = (x: typeof c) => ({ common: x.commonTargets, rows: x.rows.map((r) => [r.run.id, r.own, r.common]) });
      expect(figures(cli)).toEqual(figures(c));
      const listed = JSON.parse(runCli(['runs', 'list', '--task', 'Breast density', '--json'], { dataDir })) as { id: number }[];
      expect(listed.map((r) => r.id)).toEqual([narrow, wide]);
      expect(() => runCli(['runs', 'compare', '--task', 'Nope'], { dataDir })).toThrow(/no task named "Nope"/);

      // Chosen runs only; a run of another task is refused by name.
      const one = await callApi(b, 'runs.compare', { taskId: density.id, scope: 'exam', runIds: [wide], bootstrapSamples: 10 });
      expect(one.rows).toHaveLength(1);
      const birads = (await callApi(b, 'tasks.list', {})).find((t) => t.name !== 'Breast density')!;
      await expect(callApi(b, 'runs.compare', { taskId: birads.id, scope: 'exam', runIds: [wide] })).rejects.toThrow(
        `run ${wide} is not a run of "${birads.name}"`,
      );
    } finally {
      b.close();
    }
  }, 300_000);
});
