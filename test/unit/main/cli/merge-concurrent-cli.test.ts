// Two `cleft runs merge` of the same shard files at once, as a retried cluster step can start them
// (two processes, one data dir, a library neither has seen): both are held by a test barrier
// (CLEFT_HOLD_AT, no timing) after each found no run of the set, then let go together. The check and
// the insert are one transaction, so the library ends with ONE run, which both name, and merging
// again names it too.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { generatePhantoms } from '../../../../src/main/dicom/phantom';
import { runCli, startCli, stopClis } from '../../../helpers/cli';
import { addTinyBundle, testBackend, type TinyBundle } from '../../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';
import { until } from '../../../helpers/wait';

afterAll(removeTmpDirs);
afterEach(stopClis);

const TASK = 'Breast density';
const T = 600_000;

let outputs: string[];

beforeAll(async () => {
  const source = tmpDir('cleft-merge-race-src-');
  const exams = await generatePhantoms({ outDir: source, exams: 2, seed: 11, size: 'small', syntaxes: ['explicit-le'] });
  const work = tmpDir('cleft-merge-race-work-');
  const list = path.join(work, 'list.txt');
  fs.writeFileSync(list, `${exams.flatMap((e) => e.images.map((im) => im.file)).join('\n')}\n`);
  const b = testBackend(path.join(tmpDir('cleft-merge-race-bundle-'), 'library'));
  let bundle: TinyBundle;
  try {
    bundle = await addTinyBundle(b, 7, { name: 'tiny' });
  } finally {
    await b.close();
  }
  outputs = [1, 2].map((k) => {
    const output = path.join(work, `results-${k}.safetensors`);
    runCli(
      // prettier-ignore
      ['classify', '--bundle', bundle.dir, '--task', TASK, '--dicom-list', list, '--shard', `${k}/2`, '--output', output, '--cache-dir', path.join(work, 'onnx-cache')],
      { dataDir: '' },
    );
    return output;
  });
}, T);

interface Merged {
  runId: number;
  alreadyMerged: boolean;
  studies: number;
}

it('two merges of the same shards at once end with one run, which both (and a later merge) name', { timeout: T }, async () => {
  const dataDir = path.join(tmpDir('cleft-merge-race-lib-'), 'library');
  const hold = tmpDir('cleft-merge-race-hold-');
  const env = { CLEFT_HOLD_AT: 'runs.merge-checked', CLEFT_HOLD_DIR: hold };
  const merges = [0, 1].map(() => startCli(['runs', 'merge', ...outputs, '--json'], { dataDir, env }));
  // Both past their check (neither found a run of the set) and waiting: the race the transaction must settle.
  await until(
    () => {
      for (const m of merges) if (m.child.exitCode !== null) throw new Error(`merge ${m.pid} ended before the barrier: ${m.stderr()}`);
      return merges.every((m) => fs.existsSync(path.join(hold, `${m.pid}.held`)));
    },
    'both merges at the barrier',
    T,
  );
  fs.writeFileSync(path.join(hold, 'release'), '');
  const ends = await Promise.all(merges.map((m) => m.exited));
  merges.forEach((m, i) => expect(ends[i], m.stderr()).toEqual({ code: 0, signal: null }));
  const results = merges.map((m) => JSON.parse(m.stdout()) as Merged);
  expect(results[0]!.runId).toBe(results[1]!.runId);
  expect(results.map((r) => r.alreadyMerged).sort()).toEqual([false, true]);
  expect(results.map((r) => r.studies)).toEqual([2, 2]);

  const runs = JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as { id: number }[];
  expect(runs.map((r) => r.id)).toEqual([results[0]!.runId]);
  const again = JSON.parse(runCli(['runs', 'merge', ...outputs, '--json'], { dataDir })) as Merged;
  expect(again).toMatchObject({ runId: results[0]!.runId, alreadyMerged: true });
  expect((JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as unknown[]).length).toBe(1);
});
