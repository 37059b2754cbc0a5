// `cleft runs merge`: the results files of a sharded classification (classify-shard.ts) into the
// library as ONE classification run, the kind the app's Classify records. The set is checked first
// (one run: same bundle, prompts, task, app version, weight precision, N and input list; every
// shard 1..N exactly once; no study or image in two shards) and refused naming the file and the
// reason. Images the library does not hold yet are indexed through the library's one indexing
// path (index-files.ts).
// Per-breast and per-exam results are recomputed from the per-image probabilities exactly as the
// classify job combines them (combine-study.ts), so the merged run equals a run of the library bit
// for bit.
import fs from 'node:fs';
import path from 'node:path';
import type { WeightPrecision } from '../../common/precision';
import type { RunRecord } from '../../common/runs';
import { DB_FILE_NAME, openDatabase, type Db } from '../db/database';
import { ImagesRepo } from '../db/images-repo';
import { LibraryIndexRepo } from '../db/library-index-repo';
import { PromptSetsRepo } from '../db/prompt-sets-repo';
import { RunsRepo, type NewPrediction } from '../db/runs-repo';
import { TasksRepo } from '../db/tasks-repo';
import { indexFiles } from '../library/index-files';
import { LibraryWriter } from '../library/library-writer';
import { libraryModelOfBundle } from '../models/bundle-model';
import { listModels, type ModelRecord } from '../models/registry';
import { openBundle } from '../../native/bundle/index';
import { holdPoint } from '../../native/io/crash-point';
import { canonicalJson, sha256Hex } from '../../native/io/hash';
import { identityDifference, readResultsFile, type ResultsFile, type ResultsSkipped, type RunIdentity } from './results-file';
import { combineStudy } from './combine-study';
import { classifyRunName, selectionSha256 } from './run-identity';

/** How long a merge waits for another connection's write: a large run's predictions are inserted in one transaction. */
const MERGE_BUSY_TIMEOUT_MS = 30 * 60_000;

/** Files indexed per transaction. */
const INDEX_BATCH = 500;

/** The words a refusal uses for each identity field. */
const FIELD_NAMES: Record<keyof RunIdentity, string> = {
  appVersion: 'app version',
  task: 'task',
  classes: 'class names',
  bundleSha256: 'bundle hash',
  promptSet: 'prompt set',
  adaptor: 'adaptor',
  promptsSha256: 'prompt set hash',
  preprocessSha256: 'preprocessing hash',
  shardCount: 'number of shards N',
  inputsSha256: 'input list (hash of its StudyInstanceUIDs)',
  weights: 'weight precision',
};

export interface MergeOutcome {
  runId: number;
  /** True when this very set had been merged before: its run is returned, nothing is added. */
  alreadyMerged: boolean;
  studies: number;
  images: number;
  /** Images indexed into the library by this merge. */
  indexed: number;
  shards: number;
  model: { id: number; name: string; registered: boolean };
  /** What the shards did not classify, with the reasons they give. */
  skipped: ResultsSkipped[];
  /** The encoders' weight precision the shards ran with (recorded in the run). */
  weights: WeightPrecision;
}

function runIdentityOf(r: ResultsFile): RunIdentity {
  const { shardIndex: _k, ...run } = r.identity;
  return run;
}

/**
 * The key of a merged set in its run's record. float32 keeps the key of the identity without a
 * precision (as merges recorded before it existed), so a retried merge of such a set still finds its run.
 */
function mergeKeyOf(run: RunIdentity): string {
  const { weights, ...rest } = run;
  return sha256Hex(canonicalJson(weights === 'float32' ? rest : run));
}

/** Reads the files and refuses anything but one complete run's shards, each exactly once. */
export function checkShardSet(files: readonly string[]): { file: string; results: ResultsFile }[] {
  if (!files.length) throw new Error('give the results files of every shard');
  const seenPath = new Map<string, string>();
  for (const f of files) {
    const key = path.resolve(f);
    if (seenPath.has(key)) throw new Error(`${f}: given twice`);
    seenPath.set(key, f);
  }
  const set = files.map((file) => ({ file, results: readResultsFile(file) }));
  const ref = set[0]!;
  const refRun = runIdentityOf(ref.results);
  for (const s of set.slice(1)) {
    const w = s.results.identity.weights;
    if (w !== refRun.weights)
      throw new Error(
        `${s.file}: not a shard of the same run as ${ref.file}: another ${FIELD_NAMES.weights} (${w} weights; ${ref.file}: ${refRun.weights})`,
      );
    const diff = identityDifference(refRun, runIdentityOf(s.results));
    if (diff) {
      const key = diff.split(' ')[0] as keyof RunIdentity;
      throw new Error(
        `${s.file}: not a shard of the same run as ${ref.file}: another ${FIELD_NAMES[key] ?? key} (${diff.slice(key.length + 1)})`,
      );
    }
  }
  const n = refRun.shardCount;
  const byIndex = new Map<number, string>();
  for (const s of set) {
    const k = s.results.identity.shardIndex;
    const other = byIndex.get(k);
    if (other) throw new Error(`${s.file}: shard ${k}/${n} is given twice (also ${other})`);
    byIndex.set(k, s.file);
  }
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length)
    throw new Error(
      `incomplete set: shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${n}`).join(', ')} missing ` +
        `(given: ${[...byIndex].map(([k, f]) => `${k}/${n} ${f}`).join(', ')})`,
    );
  const studyOwner = new Map<string, string>();
  const sopOwner = new Map<string, string>();
  for (const s of set) {
    for (const uid of s.results.studies) {
      const other = studyOwner.get(uid);
      if (other) throw new Error(`${s.file}: study ${uid} is also in ${other}`);
      studyOwner.set(uid, s.file);
    }
    for (const im of s.results.images) {
      const other = sopOwner.get(im.sopInstanceUid);
      if (other) throw new Error(`${s.file}: image ${im.sopInstanceUid} is also in ${other}`);
      sopOwner.set(im.sopInstanceUid, s.file);
    }
  }
  return set.sort((a, b) => a.results.identity.shardIndex - b.results.identity.shardIndex);
}

/** The library's record of the shards' bundle: registered by content, else its folder registered now. */
async function modelOf(db: Db, dataDir: string, r: ResultsFile, file: string): Promise<{ model: ModelRecord; registered: boolean }> {
  const sha = r.identity.bundleSha256;
  const known = listModels(db, { kind: 'bundle' }).find((m) => m.sha256 === sha);
  if (known) return { model: known, registered: false };
  if (!fs.existsSync(r.bundle.path))
    throw new Error(
      `${file}: the bundle ${sha.slice(0, 12)} is not in the library ${dataDir}, and its folder ${r.bundle.path} is not here: ` +
        'register it first (cleft models import DIR)',
    );
  const bundle = await openBundle(r.bundle.path, { verify: 'sizes' });
  if (bundle.sha256 !== sha)
    throw new Error(
      `${file}: the bundle at ${r.bundle.path} has changed since the shards ran (hash ${bundle.sha256.slice(0, 12)}, not ${sha.slice(0, 12)})`,
    );
  try {
    return await libraryModelOfBundle(db, dataDir, bundle);
  } catch (e) {
    // Another merge of the same shards registered it meanwhile (both saw it missing): use that record.
    const now = listModels(db, { kind: 'bundle' }).find((m) => m.sha256 === sha);
    if (now) return { model: now, registered: false };
    throw e;
  }
}

/** Indexes the shards' images the library does not hold yet; returns how many. */
async function indexMissing(db: Db, set: { file: string; results: ResultsFile }[]): Promise<number> {
  const index = new LibraryIndexRepo(db);
  const missing: { shard: string; file: string; study: string; sop: string }[] = [];
  for (const s of set)
    for (const im of s.results.images) {
      if (index.instanceByUid(im.sopInstanceUid)) continue;
      if (!fs.existsSync(im.file))
        throw new Error(
          `${s.file}: image ${im.sopInstanceUid} is not in the library and its file ${im.file} is not here; ` +
            'import the files first (cleft import DIR), or merge where the paths resolve',
        );
      missing.push({ shard: s.file, file: im.file, study: im.studyInstanceUid, sop: im.sopInstanceUid });
    }
  // In study then SOP UID order: the library's ids (and so a run's row order, which the bootstrap of
  // its metrics follows) come out the same whatever the shards' order or count.
  const key = (m: { study: string; sop: string }): string => `${m.study}\u0000${m.sop}`;
  missing.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const writer = new LibraryWriter(db);
  for (let i = 0; i < missing.length; i += INDEX_BATCH) {
    const part = missing.slice(i, i + INDEX_BATCH);
    const scanned = part.map(({ file }) => {
      const st = fs.statSync(file);
      return { file, size: st.size, mtimeMs: st.mtimeMs };
    });
    const outcomes = await indexFiles(writer, null, scanned);
    outcomes.forEach((o, j) => {
      if (o.kind === 'refused' || o.kind === 'skipped')
        throw new Error(`${part[j]!.shard}: ${part[j]!.file} could not be indexed into the library: ${o.reason}`);
    });
  }
  return missing.length;
}

export async function mergeResults(files: readonly string[], dataDir: string): Promise<MergeOutcome> {
  const set = checkShardSet(files);
  const first = set[0]!;
  const id = first.results.identity;
  // Another merge of the same set may be inserting a large run: wait for its commit (then this one
  // finds the run), not 5 s.
  const db = openDatabase(path.join(dataDir, DB_FILE_NAME), { busyTimeoutMs: MERGE_BUSY_TIMEOUT_MS });
  try {
    const tasks = new TasksRepo(db);
    tasks.seedBuiltins();
    const task = tasks.findByName(id.task);
    if (!task) throw new Error(`${first.file}: the library ${dataDir} has no task "${id.task}" (add it in the app, then merge again)`);
    const names = task.classes.map((c) => c.name);
    if (canonicalJson(names) !== canonicalJson(id.classes))
      throw new Error(
        `${first.file}: task "${id.task}" of the library has classes ${names.join(', ')}, the shards ${id.classes.join(', ')}`,
      );

    const { model, registered } = await modelOf(db, dataDir, first.results, first.file);
    const runs = new RunsRepo(db);
    // The same set merged again (a retried merge step) names its run instead of adding a second one.
    const mergeKey = mergeKeyOf(runIdentityOf(first.results));
    const images = set.reduce((n, s) => n + s.results.images.length, 0);
    const studiesCount = set.reduce((n, s) => n + s.results.studies.length, 0);
    const skipped = set.flatMap((s) => s.results.skipped);
    const base = {
      studies: studiesCount,
      images,
      shards: set.length,
      skipped,
      weights: id.weights,
      model: { id: model.id, name: model.name, registered },
    };
    const before = runs.runOfMergedShards(task.id, mergeKey);
    if (before !== null) return { ...base, runId: before, alreadyMerged: true, indexed: 0 };

    const indexed = await indexMissing(db, set);
    const lib = new ImagesRepo(db);
    const k = id.classes.length;
    // Per study: its library images in the job's order, each with its probabilities from the shards.
    const studies: { studyId: number; rows: NewPrediction[] }[] = [];
    for (const { results } of set) {
      const bySop = new Map(
        results.images.map((im, i) => [im.sopInstanceUid, Array.from(results.probabilities.subarray(i * k, (i + 1) * k))]),
      );
      for (const uid of results.studies) {
        const views = lib.imagesOfStudyUid(uid).filter((v) => bySop.has(v.sopInstanceUid));
        const studyId = views[0]?.studyId;
        if (studyId === undefined) throw new Error(`study ${uid}: not in the library after indexing its images`);
        const laterality = views.map((v) => (v.laterality === 'L' || v.laterality === 'R' ? v.laterality : null));
        const probabilities = views.map((v) => bySop.get(v.sopInstanceUid)!);
        const rows: NewPrediction[] = views.map((v, i) => ({
          scope: 'image',
          studyId,
          instanceId: v.id,
          laterality: laterality[i]!,
          probabilities: probabilities[i]!,
        }));
        const combined = combineStudy(
          views.map((v, i) => ({ sopInstanceUid: v.sopInstanceUid, laterality: laterality[i]!, probabilities: probabilities[i]! })),
        );
        for (const side of ['R', 'L'] as const) {
          const p = combined.breast[side];
          if (p) rows.push({ scope: 'breast', studyId, instanceId: null, laterality: side, probabilities: p });
        }
        rows.push({ scope: 'exam', studyId, instanceId: null, laterality: null, probabilities: combined.exam });
        studies.push({ studyId, rows });
      }
    }
    // Studies in library order, as the classify job saves them (its rows' order is the run's).
    studies.sort((a, b) => a.studyId - b.studyId);
    const providers = [...new Set(set.flatMap((s) => s.results.executionProvider.split(', ')).filter((p) => p && p !== 'none'))].sort();
    const record: RunRecord = {
      modelSha256: id.bundleSha256,
      adapters: first.results.record.adapters,
      promptSetSha256: first.results.record.promptSetSha256,
      preprocessSha256: id.preprocessSha256,
      selectionSha256: selectionSha256(studies.map((s) => s.studyId)),
      executionProvider: providers.join(', ') || null,
      appVersion: id.appVersion,
      weights: id.weights,
      params: {
        task: id.task,
        promptSet: id.promptSet,
        adaptor: id.adaptor,
        studies: studies.length,
        shards: id.shardCount,
        mergedShards: mergeKey,
      },
    };
    await holdPoint('runs.merge-checked');
    // The check and the insert in one IMMEDIATE transaction (it takes the write lock before the
    // check): of two merges of the same set running at once, the second waits for the first to
    // commit, then finds its run instead of adding another.
    const saved = db
      .transaction((): { runId: number; alreadyMerged: boolean } => {
        const merged = runs.runOfMergedShards(task.id, mergeKey);
        if (merged !== null) return { runId: merged, alreadyMerged: true };
        const created = runs.createRun({
          kind: id.adaptor ? 'adaptor' : 'zero-shot',
          name: classifyRunName(id.task, model.name, id.promptSet, id.adaptor),
          jobId: null,
          modelId: model.id,
          taskId: task.id,
          promptSetId: id.promptSet ? new PromptSetsRepo(db).latestId(model.id, id.promptSet) : null,
          record,
        });
        for (const s of studies) runs.addPredictions(created, id.classes, s.rows);
        return { runId: created, alreadyMerged: false };
      })
      .immediate();
    return { ...base, ...saved, indexed };
  } finally {
    db.close();
  }
}
