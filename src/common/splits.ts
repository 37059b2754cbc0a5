// Named train/validation/test splits of the library's studies, as the UI and the CLI see them, and
// the split a training run records.
import { z } from 'zod';

export const SplitPart = z.enum(['train', 'val', 'test']);
export type SplitPart = z.infer<typeof SplitPart>;

export const SplitName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "use letters, digits, '.', '_' and '-' (at most 64)");

export const SplitCounts = z.object({
  train: z.number().int(),
  val: z.number().int(),
  test: z.number().int(),
  /** Groups (patients, or studies without a PatientID) in the split. */
  patients: z.number().int(),
});
export type SplitCounts = z.infer<typeof SplitCounts>;

export const SplitInfo = z.object({
  id: z.number().int(),
  name: z.string(),
  source: z.enum(['created', 'imported']),
  /** The task whose labels stratified it (created splits). */
  task: z.string().nullable(),
  params: z.record(z.string(), z.unknown()),
  sha256: z.string(),
  notes: z.array(z.string()),
  /** Studies per part. */
  counts: SplitCounts,
  createdAt: z.string(),
});
export type SplitInfo = z.infer<typeof SplitInfo>;

/** `cleft splits show NAME --json`: StudyInstanceUIDs per part and the counts. */
export const SplitShow = z.object({
  train: z.array(z.string()),
  val: z.array(z.string()),
  test: z.array(z.string()),
  counts: SplitCounts,
});
export type SplitShow = z.infer<typeof SplitShow>;

export const SplitCreateInput = z
  .object({
    name: SplitName,
    taskId: z.number().int().positive(),
    /** Group by patient (PatientID, else StudyInstanceUID) or by study. */
    by: z.enum(['patient', 'study']).default('patient'),
    /** train, val, test (summing to 1). */
    fractions: z
      .tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)])
      .default([0.7, 0.1, 0.2])
      .refine(([a, b, c]) => Math.abs(a + b + c - 1) < 1e-6 && a > 0, 'the fractions must sum to 1 with some left to train'),
    seed: z.number().int().default(0),
  })
  .strict();
export type SplitCreateInput = z.input<typeof SplitCreateInput>;

export const SplitImportInput = z.object({ path: z.string().min(1, 'path is required'), name: SplitName }).strict();

/** A row of an imported split that was not used, with its line and why. */
export const SplitImportProblem = z.object({ line: z.number().int(), key: z.string(), reason: z.string() });

export const SplitImportResult = z.object({
  split: SplitInfo,
  /** Rows whose key matches no study of the library (an official split lists more studies than a site has). */
  unmatched: z.array(SplitImportProblem),
  /** Patients with studies in two parts: the split is stored, but training refuses it. */
  patientsInSeveralParts: z.array(z.object({ patientId: z.string(), parts: z.array(SplitPart) })),
  warnings: z.array(z.string()),
});
export type SplitImportResult = z.infer<typeof SplitImportResult>;

/** Runs and jobs that name a split (what `splits.delete` refuses to orphan without `force`). */
export const SplitReferences = z.object({
  runs: z.array(z.object({ id: z.number().int(), kind: z.string(), name: z.string() })),
  jobs: z.array(z.object({ id: z.number().int(), kind: z.string(), status: z.string() })),
});
export type SplitReferences = z.infer<typeof SplitReferences>;

export const SplitDeleteInput = z
  .object({
    name: SplitName,
    /** Delete even when runs or jobs name it (runs keep the studies they recorded; a job asking for it fails when it runs). */
    force: z.boolean().default(false),
  })
  .strict();

/** `splits.delete`: the split deleted, and what referred to it (only non-empty with `force`). */
export const SplitDeleteResult = z.object({ deleted: SplitInfo, references: SplitReferences });
export type SplitDeleteResult = z.infer<typeof SplitDeleteResult>;

/**
 * The split a training used, in its run record and its bundle entry: a named split (name and
 * hash), or the automatic seeded one by patient; and the studies it trained and validated on.
 */
export const TrainingSplitRecord = z.object({
  name: z.string().nullable(),
  sha256: z.string(),
  by: z.enum(['patient', 'study', 'named']),
  seed: z.number().int().nullable(),
  /** StudyInstanceUIDs trained on and validated on (never the test part). */
  trainStudies: z.array(z.string()),
  valStudies: z.array(z.string()),
  notes: z.array(z.string()).default([]),
});
export type TrainingSplitRecord = z.infer<typeof TrainingSplitRecord>;
