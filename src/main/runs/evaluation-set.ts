// Which studies a run is evaluated on (issue #12, "honest evaluation"): by default the studies the
// model and prompt set never saw. The trainings of a run's lineage are the LoRA runs that made its
// bundle (and that bundle's base, and so on), the prompt-learning run that made its prompt set and
// the adaptor run that made its head; each records the studies it trained and validated on. What
// was brought in from elsewhere has no run here: its manifest's `training.split` stands in for it
// (manifest-lineage.ts), and where that names no studies the evaluation says "training data unknown".
import { CleftError } from '../../common/errors';
import type { EvaluationSet, Prediction, Run } from '../../common/runs';
import type { TrainingSplitRecord } from '../../common/splits';
import type { Db } from '../db/database';
import { RunsRepo } from '../db/runs-repo';
import { SplitsRepo } from '../db/splits-repo';
import type { BundleManifest } from '../../native/bundle/index';
import { bundleManifestOf, manifestSplit, trainedByCleftStudio } from './manifest-lineage';

/** Where a run's lineage is read from: the runs, the splits, and the bundle manifests the library keeps. */
export interface LineageSources {
  runs: RunsRepo;
  splits: SplitsRepo;
  /** A model's bundle manifest (null: none); lineage of what was imported falls back to it. */
  manifestOf: (modelId: number) => BundleManifest | null;
}

export function lineageSources(db: Db): LineageSources {
  return { runs: new RunsRepo(db), splits: new SplitsRepo(db), manifestOf: bundleManifestOf(db) };
}

type TrainingKind = 'prompt-learning' | 'adaptor' | 'LoRA';

interface LineageTraining {
  label: string;
  kind: TrainingKind;
  split: TrainingSplitRecord | undefined;
  /** Brought in from elsewhere without saying which studies trained it. */
  unknown?: boolean;
}

const howSplit = (split: TrainingSplitRecord | undefined | null): string =>
  split
    ? split.name !== null
      ? `split "${split.name}"`
      : `automatic split${split.seed !== null ? `, seed ${split.seed}` : ''}`
    : 'split not recorded';

/** A training known only from a manifest entry's `training` (imported bundle, prompt set or adaptor). */
function fromManifest(kind: TrainingKind, what: string, split: TrainingSplitRecord | null): LineageTraining {
  return split
    ? { label: `${what} (${split.notes[0] ?? howSplit(split)}, from its manifest)`, kind, split }
    : { label: `${what} (from elsewhere, training data unknown)`, kind, split: undefined, unknown: true };
}

/** What a training made, as the empty-report reason names it. */
const MADE: Record<TrainingKind, string> = {
  'prompt-learning': 'the prompt set was learned',
  adaptor: 'the adaptor was trained',
  LoRA: 'the model was trained',
};

const paramName = (r: Run, key: string): unknown => r.record.params[key];

/** The trainings that made what `run` classified with (itself, when it is a training run). */
export function lineageOf(src: LineageSources, run: Run): LineageTraining[] {
  const { runs, splits, manifestOf } = src;
  const found = new Map<number, Run>();
  const imported: LineageTraining[] = [];
  const earlier = (kind: Run['kind']) => runs.listRuns({ kind }).filter((r) => r.id <= run.id);
  // LoRA: the run that registered the model, then the one that made its base, ...; a bundle no run
  // here made speaks for itself through its manifest (a base model that says nothing adds nothing)
  const lora = earlier('contrastive-lora');
  const seenModels = new Set<number>();
  for (let modelId = run.modelId; modelId !== null && !seenModels.has(modelId);) {
    seenModels.add(modelId);
    const maker = lora.find((r) => r.modelId === modelId);
    if (!maker) {
      const m = manifestOf(modelId);
      if (m && (m.training !== undefined || trainedByCleftStudio(m)))
        imported.push(fromManifest('LoRA', `bundle "${m.name}"`, manifestSplit(m.training, splits)));
      break;
    }
    found.set(maker.id, maker);
    const base = paramName(maker, 'baseModelId');
    modelId = typeof base === 'number' ? base : null;
  }
  const manifest = run.modelId !== null ? manifestOf(run.modelId) : null;
  // Prompt learning: the run that wrote the prompt set row, else the newest of that name on the
  // model, else the prompt set's manifest entry (learned elsewhere).
  if (run.kind === 'prompt-learning') found.set(run.id, run);
  else if (run.promptSet !== null) {
    const learned = earlier('prompt-learning').filter((r) => r.modelId === run.modelId);
    const maker =
      (run.promptSetId !== null ? learned.find((r) => r.promptSetId === run.promptSetId) : undefined) ??
      learned.find((r) => paramName(r, 'name') === run.promptSet);
    if (maker) found.set(maker.id, maker);
    else {
      const entry = manifest?.promptSets.find((p) => p.name === run.promptSet);
      if (entry) imported.push(fromManifest('prompt-learning', `prompt set "${entry.name}"`, manifestSplit(entry.training, splits)));
    }
  }
  // Adaptor: the training run itself, or the newest adaptor run of the head a classification used.
  // (a classification with a head names it in params.adaptor; the training run does not)
  const head = paramName(run, 'adaptor');
  if (run.kind === 'adaptor' && typeof head !== 'string') found.set(run.id, run);
  if (typeof head === 'string') {
    const maker = earlier('adaptor').find((r) => r.modelId === run.modelId && paramName(r, 'name') === head && r.id !== run.id);
    if (maker) found.set(maker.id, maker);
    else {
      const entry = manifest?.adaptors.find((a) => a.name === head);
      if (entry) imported.push(fromManifest('adaptor', `adaptor "${entry.name}"`, manifestSplit(entry.training, splits)));
    }
  }
  return [
    ...imported,
    ...[...found.values()]
      .sort((a, b) => a.id - b.id)
      .map((r) => {
        const kind: TrainingKind = r.kind === 'prompt-learning' ? 'prompt-learning' : r.kind === 'adaptor' ? 'adaptor' : 'LoRA';
        const split = r.record.split;
        return { label: `${kind} run #${r.id} (${howSplit(split)})`, kind, split };
      }),
  ];
}

export interface EvaluationSelection {
  /** Predictions to evaluate (labelled ones, already filtered to the chosen studies). */
  rows: Prediction[];
  set: EvaluationSet;
  /** When `rows` is empty although labelled predictions exist: why none is held out. */
  emptyReason: string | null;
}

/** What the trainings of a run's lineage used, and whether a study is held out from all of them. */
export function studiesOfLineage(src: LineageSources, run: Run) {
  const { splits } = src;
  const lineage = lineageOf(src, run);
  const train = new Set<string>();
  const val = new Set<string>();
  for (const t of lineage) {
    for (const uid of t.split?.trainStudies ?? []) train.add(uid);
    for (const uid of t.split?.valStudies ?? []) val.add(uid);
  }
  const seen = new Set([...train, ...val]);
  const named = [...new Set(lineage.flatMap((t) => (t.split?.name ? [t.split.name] : [])))];
  const unrecorded = lineage.filter((t) => !t.split && !t.unknown).length;
  const unknown = lineage.filter((t) => t.unknown);
  let testParts = null as Set<string> | null; // a cast: TS would narrow a declared null for good
  const missing: string[] = [];
  for (const name of named) {
    let part: Set<string>;
    try {
      const split = splits.get(name);
      part = new Set(splits.studiesOf(split.id).flatMap((s) => (s.part === 'test' ? [s.studyUid] : [])));
    } catch (e) {
      if (!(e instanceof CleftError && e.code === 'not_found')) throw e;
      missing.push(name); // deleted or from another library: fall back to "outside train and val"
      continue;
    }
    testParts = testParts === null ? part : new Set([...testParts].filter((u) => part.has(u)));
  }
  const parts = testParts;
  const heldOut = (uid: string) => !seen.has(uid) && (parts === null || parts.has(uid));
  /**
   * train / val (trained or validated on by the lineage), test (held out), '' (outside the named
   * split's test part, or not known to be held out: training data unknown).
   */
  const partOf = (uid: string): 'train' | 'val' | 'test' | '' =>
    train.has(uid) ? 'train' : val.has(uid) ? 'val' : heldOut(uid) && unknown.length === 0 ? 'test' : '';
  return { lineage, seen, named, missing, unrecorded, unknown, testParts: parts, heldOut, partOf };
}

/**
 * Keeps the labelled predictions of the held-out studies (or all, with `includeTraining`) and
 * says which set that is. Held out: the test part of the named split(s) a training of the
 * lineage used, minus every study any of them trained or validated on; without a named split,
 * every study outside those.
 */
export function selectEvaluationSet(src: LineageSources, run: Run, labelled: Prediction[], includeTraining: boolean): EvaluationSelection {
  const { lineage, seen, named, missing, unrecorded, unknown, testParts, heldOut } = studiesOfLineage(src, run);
  let description: string;
  if (includeTraining) description = 'all studies with a label, training and validation ones included';
  else if (testParts !== null) {
    const names = named.filter((n) => !missing.includes(n)).map((n) => `"${n}"`);
    description = `test part of split${names.length > 1 ? 's' : ''} ${names.join(', ')}`;
  } else if (lineage.some((t) => !t.unknown))
    description = `studies outside the training and validation of ${lineage
      .filter((t) => !t.unknown)
      .map((t) => t.label)
      .join(', ')}`;
  else if (unknown.length) description = 'all studies';
  else description = 'all studies (no training in this model\u2019s lineage)';
  if (!includeTraining && missing.length) description += `; split ${missing.map((n) => `"${n}"`).join(', ')} is not in this library`;
  if (!includeTraining && unrecorded) description += `; ${unrecorded} training(s) recorded no studies, so they could not be left out`;
  // not "held out" when part of the lineage does not say what it was trained on
  if (unknown.length)
    description = `training data unknown (${unknown.map((t) => t.label).join(', ')} does not list the studies it was trained on): ${description}`;

  const rows = includeTraining ? labelled : labelled.filter((p) => heldOut(p.studyUid));
  const studies = new Set(rows.map((p) => p.studyUid));
  const allStudies = new Set(labelled.map((p) => p.studyUid));
  let emptyReason: string | null = null;
  if (rows.length === 0 && labelled.length > 0) {
    const scope = labelled[0]!.scope;
    // the one training that alone used every labelled study, if there is one, else all of them
    const usedAll = lineage.find((t) => {
      const used = new Set([...(t.split?.trainStudies ?? []), ...(t.split?.valStudies ?? [])]);
      return [...allStudies].every((u) => used.has(u));
    });
    const why = usedAll
      ? `${MADE[usedAll.kind]} on every labelled study (${usedAll.label})`
      : [...allStudies].every((u) => seen.has(u))
        ? `the trainings of its lineage (${lineage.map((t) => t.label).join(', ')}) used every labelled study`
        : `none of the labelled studies is in the ${description}`;
    emptyReason =
      `no labelled ${scope} among the held-out predictions: ${why}; ` +
      'evaluate on all studies (includeTraining, --include-training) for figures that include training data';
  }
  return {
    emptyReason,
    rows,
    set: {
      heldOutOnly: !includeTraining,
      description,
      studies: studies.size,
      includesTrainingData: [...studies].some((u) => seen.has(u)) || (includeTraining && unrecorded + unknown.length > 0),
      excludedStudies: allStudies.size - studies.size,
      lineage: lineage.map((t) => t.label),
      trainingDataUnknown: unknown.length > 0,
    },
  };
}

/** The bootstrap's cluster of a prediction: its patient, or its study where PatientID is missing. */
export function patientCluster(p: Prediction): string {
  return p.patientId ? `p:${p.patientId}` : `s:${p.studyUid}`;
}
