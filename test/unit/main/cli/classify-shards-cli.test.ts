// Sharded classification end to end, as a cluster runs it: `cleft classify --dicom-list FILE
// --shard K/N --output F` on 24 phantom exams (no library), `cleft runs merge` into a library, and
// the merged run compared with one unsharded run of the library (`cleft classify --study`, the
// app's run): the same per-image, per-breast and per-exam probabilities bit for bit and the same
// metrics. Shards do not depend on the list's order; a killed shard resumes (CLEFT_CRASH_AT kills
// it at a named state, no timing); the merge refuses incomplete and mixed sets.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Prediction } from '../../../../src/common/runs';
import { DB_FILE_NAME, openDatabase } from '../../../../src/main/db/database';
import { RunsRepo } from '../../../../src/main/db/runs-repo';
import { generatePhantoms, type PhantomExam } from '../../../../src/main/dicom/phantom';
import { readResultsFile } from '../../../../src/main/runs/results-file';
import { addAdaptor, addPromptSet, openBundle } from '../../../../src/native/bundle/index';
import { parseShard, planFromDicomList } from '../../../../src/main/runs/shard-plan';
import { readSafetensorsHeader, readTensors, writeSafetensors } from '../../../../src/native/formats/safetensors';
import { cliOutcome, runCli, stopClis } from '../../../helpers/cli';
import { addTinyBundle, testBackend, type TinyBundle } from '../../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);
afterEach(stopClis);

const TASK = 'Breast density';
const T = 600_000;

let exams: PhantomExam[];
let files: string[];
let work: string;
let list: string;
let reversedList: string;
/** Two exams: enough for shards the merge must refuse (it refuses on the files' metadata). */
let smallList: string;
let dataDir: string;
let bundle: TinyBundle;
let otherBundle: TinyBundle;
let libraryRunId: number;

/** A run's predictions keyed by target. */
function predictions(dir: string, runId: number): Map<string, Record<string, number>> {
  const db = openDatabase(path.join(dir, DB_FILE_NAME), { readonly: true });
  try {
    const rows: Prediction[] = new RunsRepo(db).allPredictions(runId);
    return new Map(rows.map((p) => [`${p.studyUid} ${p.scope} ${p.sopInstanceUid ?? ''} ${p.laterality ?? ''}`, p.probabilities]));
  } finally {
    db.close();
  }
}

function writeList(file: string, paths: string[]): string {
  fs.writeFileSync(file, `# phantom exams\n${paths.join('\n')}\n`);
  return file;
}

const shardArgs = (k: number, n: number, listFile: string, output: string, b = bundle.dir): string[] => [
  'classify',
  '--bundle',
  b,
  '--task',
  TASK,
  '--dicom-list',
  listFile,
  '--shard',
  `${k}/${n}`,
  '--output',
  output,
  '--cache-dir',
  path.join(work, 'onnx-cache'),
];

beforeAll(async () => {
  const source = tmpDir('cleft-shards-src-');
  exams = await generatePhantoms({
    outDir: source,
    exams: 24,
    seed: 4,
    size: 'small',
    syntaxes: ['explicit-le', 'deflated', 'rle', 'jpeg-ls'],
  });
  files = exams.flatMap((e) => e.images.map((im) => im.file));
  work = tmpDir('cleft-shards-work-');
  list = writeList(path.join(work, 'all.txt'), files);
  reversedList = writeList(path.join(work, 'reversed.txt'), [...files].reverse());
  smallList = writeList(path.join(work, 'small.txt'), files.slice(0, 8));
  dataDir = path.join(tmpDir('cleft-shards-lib-'), 'library');
  const b = testBackend(dataDir);
  try {
    bundle = await addTinyBundle(b, 7, { name: 'tiny' });
    otherBundle = await addTinyBundle(b, 9, { name: 'tiny-other' });
  } finally {
    await b.close();
  }
  // The unsharded run: the library's own classify job over every study, with the exams' labels.
  runCli(['import', source], { dataDir });
  const labels = path.join(work, 'labels.csv');
  fs.writeFileSync(labels, `StudyInstanceUID,density\n${exams.map((e) => `${e.studyInstanceUID},${e.density}`).join('\n')}\n`);
  runCli(['labels', 'import', labels, '--task', TASK, '--key', 'study'], { dataDir });
  const out = JSON.parse(
    runCli(['classify', '--bundle', bundle.dir, '--task', TASK, '--study', ...exams.map((e) => e.studyInstanceUID), '--json'], { dataDir }),
  ) as { runId: number };
  libraryRunId = out.runId;
}, T);

describe('shard assignment', () => {
  it('cuts whole studies by sorted StudyInstanceUID: the same shards whatever the list order, disjoint, 8 studies each', async () => {
    const byOrder = await Promise.all(
      [list, reversedList].map((l) => Promise.all([1, 2, 3].map((k) => planFromDicomList(l, { index: k, count: 3 })))),
    );
    const uidsOf = (plans: Awaited<ReturnType<typeof planFromDicomList>>[]) => plans.map((p) => p.studies.map((s) => s.studyInstanceUid));
    expect(uidsOf(byOrder[1]!)).toEqual(uidsOf(byOrder[0]!));
    const shards = uidsOf(byOrder[0]!);
    expect(shards.map((s) => s.length)).toEqual([8, 8, 8]);
    expect(shards.flat().sort()).toEqual(exams.map((e) => e.studyInstanceUID).sort());
    // Every image of a study is in its study's shard.
    for (const plan of byOrder[0]!) for (const s of plan.studies) expect(s.images).toHaveLength(4);
    expect(byOrder[0]![0]!.inputsSha256).toBe(byOrder[1]![2]!.inputsSha256);
  });

  it('skips what an import skips (reported once, by shard 1 or with its study) and names the line of a path that is not there', async () => {
    const dir = tmpDir('cleft-shards-zz-'); // sorts after the phantoms' folder: their files are the kept copies
    const notDicom = path.join(dir, 'notes.txt');
    fs.writeFileSync(notDicom, 'not a DICOM file');
    const copy = path.join(dir, 'copy.dcm');
    fs.copyFileSync(files[0]!, copy);
    const odd = writeList(path.join(dir, 'odd.txt'), [...files, notDicom, copy, files[1]!]);
    const plans = await Promise.all([1, 2, 3].map((k) => planFromDicomList(odd, { index: k, count: 3 })));
    expect(plans.map((p) => p.studies.length)).toEqual([8, 8, 8]);
    expect(plans.flatMap((p) => p.studies.flatMap((s) => s.images))).toHaveLength(96);
    const skipped = plans.flatMap((p, i) => p.skipped.map((s) => ({ shard: i + 1, ...s })));
    const owner = plans.findIndex((p) => p.studies.some((s) => s.studyInstanceUid === exams[0]!.studyInstanceUID)) + 1;
    expect(skipped).toEqual([
      { shard: 1, file: notDicom, sopInstanceUid: null, studyInstanceUid: null, reason: expect.stringMatching(/not.*DICOM/i) },
      {
        shard: owner,
        file: copy,
        sopInstanceUid: exams[0]!.images[0]!.sopInstanceUID,
        studyInstanceUid: exams[0]!.studyInstanceUID,
        reason: `the same SOP instance as ${files[0]} (kept)`,
      },
    ]);
    const missing = writeList(path.join(dir, 'missing.txt'), [files[0]!, path.join(dir, 'gone.dcm')]);
    await expect(planFromDicomList(missing, { index: 1, count: 1 })).rejects.toThrow(
      `${missing} line 3: ${path.join(dir, 'gone.dcm')} does not exist`,
    );
  });

  it('refuses a shard out of range with the rule', () => {
    expect(() => parseShard('0/3')).toThrow('--shard 0/3: K must be between 1 and 3 (shards are numbered 1 to N)');
    expect(() => parseShard('4/3')).toThrow('K must be between 1 and 3');
    expect(() => parseShard('2')).toThrow('--shard 2: expected K/N');
    expect(() => parseShard('1/0')).toThrow('N must be at least 1');
    const r = cliOutcome(shardArgs(4, 3, list, path.join(work, 'never.safetensors')));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--shard 4/3: K must be between 1 and 3');
    expect(fs.existsSync(path.join(work, 'never.safetensors'))).toBe(false);
  });
});

describe('3 shards merged equal one unsharded run', () => {
  const outputs: string[] = [];
  beforeAll(() => {
    // Shard 2 reads the list in reverse: its order must not matter.
    for (const k of [1, 2, 3]) {
      const output = path.join(work, `results-${k}.safetensors`);
      runCli(shardArgs(k, 3, k === 2 ? reversedList : list, output), { dataDir: '' });
      outputs.push(output);
    }
  }, T);

  it('writes self-describing results files', () => {
    const r = readResultsFile(outputs[1]!);
    expect(r.identity).toMatchObject({
      task: TASK,
      classes: ['A', 'B', 'C', 'D'],
      bundleSha256: bundle.sha256,
      shardIndex: 2,
      shardCount: 3,
    });
    expect(r.studies).toHaveLength(8);
    expect(r.images).toHaveLength(32);
    expect(r.probabilities).toHaveLength(32 * 4);
    expect(r.logits).toHaveLength(32 * 4);
    expect(r.prompts.kind).toBe('templates');
    const bySop = new Map(exams.flatMap((e) => e.images.map((im) => [im.sopInstanceUID, { file: im.file, study: e.studyInstanceUID }])));
    for (const im of r.images) expect(bySop.get(im.sopInstanceUid)).toEqual({ file: im.file, study: im.studyInstanceUid });
    for (let i = 0; i < 32; i++) expect(r.probabilities.subarray(i * 4, i * 4 + 4).reduce((a, b) => a + b)).toBeCloseTo(1, 12);
  });

  it('merges into the library as one run with bit-identical probabilities and metrics', { timeout: T }, () => {
    const merged = JSON.parse(runCli(['runs', 'merge', ...outputs, '--json'], { dataDir })) as {
      runId: number;
      studies: number;
      images: number;
      indexed: number;
      alreadyMerged: boolean;
    };
    expect(merged).toMatchObject({ studies: 24, images: 96, indexed: 0, alreadyMerged: false });
    const a = predictions(dataDir, libraryRunId);
    const b = predictions(dataDir, merged.runId);
    expect(a.size).toBe(24 * (4 + 2 + 1));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [key, p] of a) expect(b.get(key), key).toStrictEqual(p); // exact: same doubles

    const runs = JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as {
      id: number;
      kind: string;
      modelId: number;
      record: { modelSha256: string; executionProvider: string };
    }[];
    const run = runs.find((r) => r.id === merged.runId)!;
    const own = runs.find((r) => r.id === libraryRunId)!;
    expect(run).toMatchObject({ kind: own.kind, modelId: own.modelId, record: { modelSha256: bundle.sha256, executionProvider: 'cpu' } });
    for (const scope of ['exam']) {
      const evaluate = (id: number) => {
        const report = JSON.parse(
          runCli(['runs', 'evaluate', String(id), '--scope', scope, '--include-training', '--json'], { dataDir }),
        ) as Record<string, unknown>;
        delete report.runId;
        delete report.run;
        return report;
      };
      expect(evaluate(merged.runId)).toEqual(evaluate(libraryRunId));
    }
    // Merging the same set again names its run instead of adding another.
    expect(runCli(['runs', 'merge', ...outputs], { dataDir })).toContain(`already merged as run #${merged.runId}`);
  });

  it('merges into a library that holds neither the images nor the bundle: indexes and registers them', { timeout: T }, () => {
    const fresh = path.join(tmpDir('cleft-shards-fresh-'), 'library');
    const merged = JSON.parse(runCli(['runs', 'merge', ...outputs, '--data-dir', fresh, '--json'])) as {
      runId: number;
      indexed: number;
      model: { registered: boolean };
    };
    expect(merged).toMatchObject({ indexed: 96, model: { registered: true } });
    const a = predictions(dataDir, libraryRunId);
    const b = predictions(fresh, merged.runId);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [key, p] of a) expect(b.get(key), key).toStrictEqual(p);
  });

  it(
    'a float32 file written before the precision was recorded (no "weights" key) merges as float32, as the same run',
    { timeout: T },
    () => {
      // Such a file: shard 1 with its "weights" metadata taken out.
      const old = path.join(work, 'no-weights-1.safetensors');
      const h = readSafetensorsHeader(outputs[0]!);
      const { weights, ...metadata } = h.metadata!;
      expect(weights).toBe('float32');
      writeSafetensors(old, readTensors(h), metadata);
      expect(readSafetensorsHeader(old).metadata!.weights).toBeUndefined();
      expect(readResultsFile(old).identity.weights).toBe('float32');

      const now = JSON.parse(runCli(['runs', 'merge', ...outputs, '--json'], { dataDir })) as { runId: number };
      const merged = JSON.parse(runCli(['runs', 'merge', old, outputs[1]!, outputs[2]!, '--json'], { dataDir })) as {
        runId: number;
        alreadyMerged: boolean;
        weights: string;
      };
      // The same run as the files that say float32: the merge key did not change for float32.
      expect(merged).toMatchObject({ runId: now.runId, alreadyMerged: true, weights: 'float32' });
      const fresh = path.join(tmpDir('cleft-shards-old-'), 'library');
      const alone = JSON.parse(runCli(['runs', 'merge', old, outputs[1]!, outputs[2]!, '--data-dir', fresh, '--json'])) as {
        runId: number;
      };
      const runs = JSON.parse(runCli(['runs', 'list', '--json'], { dataDir: fresh })) as { id: number; record: { weights?: string } }[];
      expect(runs.find((r) => r.id === alone.runId)!.record.weights).toBe('float32');
      const a = predictions(dataDir, libraryRunId);
      const b = predictions(fresh, alone.runId);
      for (const [key, p] of a) expect(b.get(key), key).toStrictEqual(p);
    },
  );

  it('without --shard processes everything: the same probabilities as the shards together', { timeout: T }, () => {
    const all = path.join(work, 'all.safetensors');
    runCli(
      [
        'classify',
        '--bundle',
        bundle.dir,
        '--task',
        TASK,
        '--dicom-list',
        list,
        '--output',
        all,
        '--cache-dir',
        path.join(work, 'onnx-cache'),
      ],
      {
        dataDir: '',
      },
    );
    const whole = readResultsFile(all);
    expect(whole.identity).toMatchObject({ shardIndex: 1, shardCount: 1 });
    const parts = outputs.map(readResultsFile);
    const bySop = (r: ReturnType<typeof readResultsFile>) =>
      new Map(r.images.map((im, i) => [im.sopInstanceUid, Array.from(r.probabilities.subarray(i * 4, i * 4 + 4))]));
    const union = new Map(parts.flatMap((p) => [...bySop(p)]));
    expect(union).toStrictEqual(bySop(whole));
  });

  it('refuses a missing shard, a shard given twice, and a shard of another bundle or prompt set, naming the file', { timeout: T }, () => {
    const refuse = (args: string[], message: string | RegExp): void => {
      const r = cliOutcome(['runs', 'merge', ...args], { dataDir });
      expect(r.status, r.stdout).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    const runsBefore = (JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as unknown[]).length;
    refuse([outputs[0]!, outputs[1]!], `incomplete set: shard 3/3 missing (given: 1/3 ${outputs[0]}, 2/3 ${outputs[1]})`);
    const copy = path.join(work, 'copy-of-2.safetensors');
    fs.copyFileSync(outputs[1]!, copy);
    refuse([outputs[0]!, outputs[1]!, copy], `${copy}: shard 2/3 is given twice (also ${outputs[1]})`);

    const other = path.join(work, 'other-bundle-3.safetensors');
    runCli(shardArgs(3, 3, smallList, other, otherBundle.dir), { dataDir: '' });
    refuse([outputs[0]!, outputs[1]!, other], `${other}: not a shard of the same run as ${outputs[0]}: another bundle hash`);

    // The same task and classes with other prompt texts: another prompt set.
    const taskFile = path.join(work, 'density-other-prompts.json');
    fs.writeFileSync(
      taskFile,
      JSON.stringify({
        name: TASK,
        scope: 'exam',
        classes: ['A', 'B', 'C', 'D'].map((c) => ({ name: c, prompts: [`a mammogram of density ${c}`] })),
      }),
    );
    const otherPrompts = path.join(work, 'other-prompts-3.safetensors');
    runCli([...shardArgs(3, 3, smallList, otherPrompts).map((a) => (a === TASK ? taskFile : a))], { dataDir: '' });
    refuse(
      [outputs[0]!, outputs[1]!, otherPrompts],
      `${otherPrompts}: not a shard of the same run as ${outputs[0]}: another prompt set hash`,
    );

    const half = path.join(work, 'half-1.safetensors');
    runCli(shardArgs(1, 2, smallList, half), { dataDir: '' });
    refuse([half, outputs[1]!, outputs[2]!], `${outputs[1]}: not a shard of the same run as ${half}: another number of shards N`);

    refuse([outputs[0]!, outputs[1]!, list], `${list}: not a safetensors file`);
    expect((JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as unknown[]).length).toBe(runsBefore);
  });
});

describe('resume', () => {
  it(
    'a shard killed after its first study continues from its partial file (one without a precision: float32); a complete output is left as is',
    { timeout: T },
    () => {
      const output = path.join(tmpDir('cleft-shards-resume-'), 'results-1.safetensors');
      const partial = `${output}.partial`;
      const killed = cliOutcome(shardArgs(1, 3, list, output), { dataDir: '', env: { CLEFT_CRASH_AT: 'classify.shard-study-saved' } });
      expect(killed.signal).toBe('SIGKILL');
      expect(fs.existsSync(output)).toBe(false);
      const lines = fs.readFileSync(partial, 'utf8').split('\n').filter(Boolean);
      expect(lines).toHaveLength(2); // the identity, then the one study saved
      // As a version that recorded no precision left it: an identity without "weights" is float32's.
      const head = JSON.parse(lines[0]!) as { identity: Record<string, unknown> };
      expect(head.identity.weights).toBe('float32');
      delete head.identity.weights;
      fs.writeFileSync(partial, [JSON.stringify(head), lines[1]!, ''].join('\n'));
      // A kill in the middle of the next line leaves a cut-off line: it is dropped, not read.
      fs.appendFileSync(partial, lines[1]!.slice(0, 40));
      // Another shard's command on this output does not take the partial file for its own.
      const wrong = cliOutcome(shardArgs(2, 3, list, output), { dataDir: '' });
      expect(wrong.status).not.toBe(0);
      expect(wrong.stderr).toContain(`${partial} was left by another classification (shardIndex 2 vs 1)`);

      const resumed = runCli(shardArgs(1, 3, list, output), { dataDir: '' });
      expect(resumed).toContain('(1 studies resumed from the partial file)');
      expect(fs.existsSync(partial)).toBe(false);
      const reference = path.join(work, 'results-1.safetensors'); // the uninterrupted shard 1
      if (!fs.existsSync(reference)) runCli(shardArgs(1, 3, list, reference), { dataDir: '' });
      const whole = readResultsFile(reference);
      const again = readResultsFile(output);
      expect(again.images).toEqual(whole.images);
      expect(again.probabilities).toStrictEqual(whole.probabilities);
      expect(again.examProbabilities).toStrictEqual(whole.examProbabilities);

      const before = fs.statSync(output);
      expect(runCli(shardArgs(1, 3, list, output), { dataDir: '' })).toContain('already complete');
      expect(fs.statSync(output).mtimeMs).toBe(before.mtimeMs);
      // Another run's command on that output is refused, not overwritten.
      const r = cliOutcome(shardArgs(2, 3, list, output), { dataDir: '' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`${output} already holds other results (shardIndex 2 vs 1)`);
    },
  );
});

describe('--study-list', () => {
  it('classifies studies of a library, only reading it, into the same shard as the file list', { timeout: T }, () => {
    const uids = writeList(path.join(work, 'uids.txt'), exams.map((e) => e.studyInstanceUID).reverse());
    const reference = path.join(work, 'results-2.safetensors'); // shard 2/3 of the file list
    if (!fs.existsSync(reference)) runCli(shardArgs(2, 3, list, reference), { dataDir: '' });
    const runsBefore = runCli(['runs', 'list', '--json'], { dataDir });
    const output = path.join(work, 'from-library-2.safetensors');
    runCli([...shardArgs(2, 3, uids, output).map((a) => (a === '--dicom-list' ? '--study-list' : a)), '--data-dir', dataDir]);
    const a = readResultsFile(reference);
    const b = readResultsFile(output);
    expect(b.identity).toEqual(a.identity); // same inputs hash: shards of either list merge together
    expect(b.studies).toEqual(a.studies);
    expect(b.images).toEqual(a.images);
    expect(b.probabilities).toStrictEqual(a.probabilities);
    expect(b.examProbabilities).toStrictEqual(a.examProbabilities);
    expect(runCli(['runs', 'list', '--json'], { dataDir })).toBe(runsBefore);

    const bad = writeList(path.join(work, 'uids-bad.txt'), [exams[0]!.studyInstanceUID, '1.2.3.999']);
    const r = cliOutcome([
      ...shardArgs(1, 3, bad, path.join(work, 'never-2.safetensors')).map((x) => (x === '--dicom-list' ? '--study-list' : x)),
      '--data-dir',
      dataDir,
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${bad} line 3: study 1.2.3.999 is not in the library`); // line 1 is the list's comment
  });
});

describe('--prompt-set and --adaptor', () => {
  it('with a learned prompt set of the bundle the merged shards equal the library run with that set', { timeout: T }, async () => {
    const b = await openBundle(otherBundle.dir);
    const dim = b.text.config.nEmbd;
    await addPromptSet(
      b,
      'seeded',
      { data: new Float32Array(2 * dim).map((_, i) => Math.sin(i * 0.37) * 0.5), shape: [2, dim] },
      {
        task: TASK,
        classNames: ['A', 'B', 'C', 'D'],
        nCtx: 2,
        initPhrase: 'a mammogram of',
        metrics: { before: null, after: null },
        training: {},
      },
    );
    const two = exams.slice(0, 2).map((e) => e.studyInstanceUID); // the studies of smallList
    const lib = JSON.parse(
      runCli(['classify', '--bundle', otherBundle.dir, '--task', TASK, '--study', ...two, '--prompt-set', 'seeded', '--json'], { dataDir }),
    ) as { runId: number };
    const outputs = [1, 2].map((k) => {
      const output = path.join(work, `seeded-${k}.safetensors`);
      runCli([...shardArgs(k, 2, smallList, output, otherBundle.dir), '--prompt-set', 'seeded'], { dataDir: '' });
      return output;
    });
    const first = readResultsFile(outputs[0]!);
    expect(first.identity.promptSet).toBe('seeded');
    expect(first.prompts).toMatchObject({ kind: 'learned', name: 'seeded', classNames: ['A', 'B', 'C', 'D'] });
    const merged = JSON.parse(runCli(['runs', 'merge', ...outputs, '--json'], { dataDir })) as { runId: number };
    const a = predictions(dataDir, lib.runId);
    const m = predictions(dataDir, merged.runId);
    expect(a.size).toBe(2 * (4 + 2 + 1));
    expect([...m.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [key, p] of a) expect(m.get(key), key).toStrictEqual(p);
    const runs = JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as {
      id: number;
      name: string;
      promptSet: string | null;
      record: { promptSetSha256: string | null; modelSha256: string };
    }[];
    const [own, mine] = [lib.runId, merged.runId].map((id) => runs.find((r) => r.id === id)!);
    expect(mine).toMatchObject({ name: own!.name, promptSet: own!.promptSet, record: { promptSetSha256: own!.record.promptSetSha256 } });
    expect(mine!.record.promptSetSha256).toEqual(expect.stringMatching(/^[0-9a-f]{64}$/));
  });
  it('with a trained head of the bundle (--adaptor) the merged shards equal the library run with that head', { timeout: T }, async () => {
    const b = await openBundle(otherBundle.dir);
    const d = b.heads.heads.projDim;
    await addAdaptor(
      b,
      'probe',
      {
        weight: { shape: [4, d], data: new Float32Array(4 * d).map((_, i) => Math.cos(i * 0.71)) },
        bias: { shape: [4], data: Float32Array.from([0.1, -0.2, 0.3, 0]) },
      },
      { task: TASK, classNames: ['A', 'B', 'C', 'D'], mode: 'linear-probe' },
    );
    const two = exams.slice(0, 2).map((e) => e.studyInstanceUID);
    const lib = JSON.parse(
      runCli(['classify', '--bundle', otherBundle.dir, '--task', TASK, '--study', ...two, '--adaptor', 'probe', '--json'], { dataDir }),
    ) as { runId: number };
    const outputs = [1, 2].map((k) => {
      const output = path.join(work, `probe-${k}.safetensors`);
      runCli([...shardArgs(k, 2, smallList, output, otherBundle.dir), '--adaptor', 'probe'], { dataDir: '' });
      return output;
    });
    const first = readResultsFile(outputs[0]!);
    expect(first.identity).toMatchObject({ adaptor: 'probe', promptSet: null });
    expect(first.logits).toBeNull();
    const merged = JSON.parse(runCli(['runs', 'merge', ...outputs, '--json'], { dataDir })) as { runId: number };
    const a = predictions(dataDir, lib.runId);
    const m = predictions(dataDir, merged.runId);
    expect([...m.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [key, p] of a) expect(m.get(key), key).toStrictEqual(p);
    const runs = JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as {
      id: number;
      kind: string;
      name: string;
      record: { adapters: Record<string, string>; promptSetSha256: string | null };
    }[];
    const [own, mine] = [lib.runId, merged.runId].map((id) => runs.find((r) => r.id === id)!);
    expect(mine).toMatchObject({ kind: 'adaptor', name: own!.name, record: { adapters: own!.record.adapters, promptSetSha256: null } });
  });
});

describe('--weights int8', () => {
  /** Three exams: shard 1/2 holds two studies, 2/2 one. */
  let int8List: string;
  const int8Outputs: string[] = [];
  const int8 = ['--weights', 'int8'];
  beforeAll(() => {
    int8List = writeList(path.join(work, 'int8.txt'), files.slice(0, 12));
    for (const k of [1, 2]) {
      const output = path.join(work, `int8-${k}.safetensors`);
      runCli([...shardArgs(k, 2, int8List, output), ...int8], { dataDir: '' });
      int8Outputs.push(output);
    }
  }, T);

  it(
    'records the precision in the results file; merged, the shards equal the unsharded int8 run of the library exactly',
    { timeout: T },
    () => {
      const r = readResultsFile(int8Outputs[0]!);
      expect(r.identity.weights).toBe('int8');
      expect(readSafetensorsHeader(int8Outputs[0]!).metadata!.weights).toBe('int8');
      expect(readSafetensorsHeader(path.join(work, 'results-1.safetensors')).metadata!.weights).toBe('float32');

      const three = exams.slice(0, 3).map((e) => e.studyInstanceUID);
      const lib = JSON.parse(
        runCli(['classify', '--bundle', bundle.dir, '--task', TASK, '--study', ...three, ...int8, '--json'], { dataDir }),
      ) as { runId: number; weights: string };
      expect(lib.weights).toBe('int8');
      const merged = JSON.parse(runCli(['runs', 'merge', ...int8Outputs, '--json'], { dataDir })) as {
        runId: number;
        studies: number;
        weights: string;
      };
      expect(merged).toMatchObject({ studies: 3, weights: 'int8' });
      const a = predictions(dataDir, lib.runId);
      const m = predictions(dataDir, merged.runId);
      expect(a.size).toBe(3 * (4 + 2 + 1));
      expect([...m.keys()].sort()).toEqual([...a.keys()].sort());
      for (const [key, p] of a) expect(m.get(key), key).toStrictEqual(p); // exact: same doubles
      // int8 did run: the float32 run of the library differs on these studies.
      const f32 = predictions(dataDir, libraryRunId);
      expect([...a].some(([key, p]) => JSON.stringify(f32.get(key)) !== JSON.stringify(p))).toBe(true);

      const runs = JSON.parse(runCli(['runs', 'list', '--json'], { dataDir })) as {
        id: number;
        name: string;
        record: { weights?: string };
      }[];
      const [own, mine] = [lib.runId, merged.runId].map((id) => runs.find((x) => x.id === id)!);
      expect(mine).toMatchObject({ name: own!.name, record: { weights: 'int8' } });
      expect(own!.record.weights).toBe('int8');
      expect(runCli(['runs', 'merge', ...int8Outputs], { dataDir })).toContain(`already merged as run #${merged.runId}`);
    },
  );

  it('merge refuses shards of mixed precision, naming the odd file and both precisions', { timeout: T }, () => {
    const f32 = path.join(work, 'int8-list-float32-2.safetensors');
    runCli(shardArgs(2, 2, int8List, f32), { dataDir: '' });
    const runsBefore = runCli(['runs', 'list', '--json'], { dataDir });
    const r = cliOutcome(['runs', 'merge', int8Outputs[0]!, f32], { dataDir });
    expect(r.status, r.stdout).not.toBe(0);
    expect(r.stderr).toContain(
      `${f32}: not a shard of the same run as ${int8Outputs[0]}: another weight precision (float32 weights; ${int8Outputs[0]}: int8)`,
    );
    expect(runCli(['runs', 'list', '--json'], { dataDir })).toBe(runsBefore);
  });

  it('a shard resumes only with the precision it started with; a complete output of another precision is refused', { timeout: T }, () => {
    const output = path.join(tmpDir('cleft-shards-int8-resume-'), 'results-1.safetensors');
    const partial = `${output}.partial`;
    const killed = cliOutcome([...shardArgs(1, 2, int8List, output), ...int8], {
      dataDir: '',
      env: { CLEFT_CRASH_AT: 'classify.shard-study-saved' },
    });
    expect(killed.signal).toBe('SIGKILL');
    const saved = fs.readFileSync(partial, 'utf8');
    expect(saved.split('\n').filter(Boolean)).toHaveLength(2);

    const f32 = cliOutcome(shardArgs(1, 2, int8List, output), { dataDir: '' });
    expect(f32.status).not.toBe(0);
    expect(f32.stderr).toContain(
      `${partial} holds studies classified with int8 weights, this run asks for float32: rerun with --weights int8 to resume it`,
    );
    expect(fs.readFileSync(partial, 'utf8')).toBe(saved); // nothing lost
    expect(fs.existsSync(output)).toBe(false);

    expect(runCli([...shardArgs(1, 2, int8List, output), ...int8], { dataDir: '' })).toContain('(1 studies resumed from the partial file)');
    const again = readResultsFile(output);
    const whole = readResultsFile(int8Outputs[0]!);
    expect(again.identity).toEqual(whole.identity);
    expect(again.probabilities).toStrictEqual(whole.probabilities);

    const over = cliOutcome(shardArgs(1, 2, int8List, output), { dataDir: '' });
    expect(over.status).not.toBe(0);
    expect(over.stderr).toContain(`${output} already holds results made with int8 weights, this run asks for float32`);
  });

  it('int8 on a GPU device is refused before anything is written', () => {
    const output = path.join(work, 'int8-cuda.safetensors');
    const r = cliOutcome([...shardArgs(1, 2, int8List, output), ...int8, '--device', 'cuda:0'], { dataDir: '' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('int8 weights run on the CPU provider only');
    expect(fs.existsSync(`${output}.partial`)).toBe(false);
  });
});
