// The contract between the UI and the back end: every method with its input and output schema and
// every event with its payload schema. Electron IPC (src/preload) and the local web host
// (src/main/server) carry exactly these; the back end validates every payload against them.
import { WeightPrecision } from './precision';
import { z } from 'zod';
import { PAGE_IDS } from './pages';
import {
  ClassifyParams,
  DemoParams,
  ImportParams,
  Job,
  JobSpec,
  JobStatus,
  MetricPoint,
  PromptLearnParams,
  TrainAdaptorParams,
  TrainLoraParams,
  ExplainParams,
  PacsRetrieveParams,
} from './jobs';
import {
  SplitCreateInput,
  SplitDeleteInput,
  SplitDeleteResult,
  SplitImportInput,
  SplitImportResult,
  SplitInfo,
  SplitName,
  SplitShow,
} from './splits';
import { FolderPath, ModelInspection, ModelKind, ModelRecord, PromptSetInfo } from './models';
import { ClassificationReport, Prediction, PredictionFilter, PredictionScope, Run, RunComparison, RunKind } from './runs';
import { LabelFileSource, LabelImportOptions, LabelImportReport, LabelImportUndoResult } from './label-files';
import {
  ArchiveAddInput,
  ArchiveInfo,
  ArchiveName,
  ArchiveQuery,
  ArchiveSeries,
  ArchiveStudy,
  ArchiveTestResult,
  SrSendResult,
} from './archives';

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  dataDir: z.string(),
  platform: z.string(),
  nodeVersion: z.string(),
  electronVersion: z.string().nullable(),
  /** 'electron' for the desktop app, 'web' for the local web host. */
  host: z.enum(['electron', 'web']),
  schemaVersion: z.number().int(),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const LibraryStats = z.object({
  patients: z.number().int().nonnegative(),
  studies: z.number().int().nonnegative(),
  series: z.number().int().nonnegative(),
  instances: z.number().int().nonnegative(),
  labels: z.number().int().nonnegative(),
  predictions: z.number().int().nonnegative(),
  models: z.number().int().nonnegative(),
  /** Studies with a report (image-report pairs for contrastive LoRA training). */
  reports: z.number().int().nonnegative(),
});
export type LibraryStats = z.infer<typeof LibraryStats>;

/** A study's free-text report (one current report per study; importing again replaces it). */
export const Report = z.object({
  studyId: z.number().int().positive(),
  text: z.string(),
  /** The file it was imported from (a CSV or a .txt file). */
  source: z.string(),
  createdAt: z.string(),
});
export type Report = z.infer<typeof Report>;

export const ReportImportResult = z.object({
  /** The file or folder imported. */
  file: z.string(),
  /** Reports stored (new or replacing an earlier one). */
  matched: z.number().int().nonnegative(),
  /** Rows or files left out, each with where it came from and why. */
  unmatched: z.array(
    z.object({
      /** The CSV or .txt file. */
      file: z.string(),
      /** CSV: the row's line number (the header is line 1); .txt: 0. */
      row: z.number().int().nonnegative(),
      /** The study key of the row (accession or StudyInstanceUID), or the .txt file name. */
      key: z.string(),
      reason: z.string(),
    }),
  ),
});
export type ReportImportResult = z.infer<typeof ReportImportResult>;

export const Settings = z.object({
  /** 'auto' tries CUDA then falls back to CPU; 'cpu' or 'cuda:N' are explicit. */
  executionProvider: z.string().regex(/^(auto|cpu|webgpu|cuda:\d+)$/, "use 'auto', 'cpu', 'webgpu' or 'cuda:N'"),
  /** Engine threads; 0 means one per core. */
  threads: z.number().int().min(0).max(256),
  /** Default name stored with labels. */
  annotator: z.string().max(100),
  /** Minutes an unused model session stays loaded in the engine; 0 keeps it until the worker ends. */
  sessionIdleMinutes: z.number().int().min(0).max(1440),
  /** Loaded sessions beyond this many MiB are released, least recently used first; 0: no limit. */
  sessionMemoryMb: z.number().int().min(0).max(1_048_576),
  /** Frozen encoders' weights in inference, prompt learning and LoRA training: float32 (exact) or int8 (smaller, faster, approximate). */
  weights: WeightPrecision,
});
export type Settings = z.infer<typeof Settings>;

export const StudyFilter = z
  .object({
    /** Matches patient ID or name, accession or description (case-insensitive substring). */
    text: z.string().max(200).optional(),
    modality: z.string().max(16).optional(),
    laterality: z.enum(['L', 'R']).optional(),
    view: z.string().max(16).optional(),
    presentationIntent: z.enum(['FOR PRESENTATION', 'FOR PROCESSING']).optional(),
    labelled: z.boolean().optional(),
    /**
     * The prediction filters and each row's `prediction` refer to a study's latest exam-scope
     * prediction: of run `runId` when given, else the newest of task `taskId` (any run of it),
     * else the newest of any task. "Latest" is per study, so a one-study Classify in the viewer
     * does not hide the rest of a Classify-all run.
     */
    taskId: z.number().int().positive().optional(),
    runId: z.number().int().positive().optional(),
    /** Only studies whose latest exam prediction is this class. */
    predictedClass: z.string().min(1).max(40).optional(),
    /** true: only studies with a prediction (as above); false: studies not classified yet. */
    predicted: z.boolean().optional(),
    /**
     * true: a label of the study (any scope) differs from the prediction of the same run at the
     * same target; false: classified, labelled, and every labelled target agrees.
     */
    disagreement: z.boolean().optional(),
  })
  .strict();
export type StudyFilter = z.infer<typeof StudyFilter>;

/** A study's latest exam-scope prediction (see StudyFilter for which one). */
export const StudyPrediction = z.object({
  runId: z.number().int().nullable(),
  taskId: z.number().int(),
  className: z.string(),
  confidence: z.number(),
  /** The exam label of the same task, if any. */
  label: z.string().nullable(),
  /** Whether any labelled target of the study disagrees with that run's prediction there. */
  disagreement: z.boolean(),
});
export type StudyPrediction = z.infer<typeof StudyPrediction>;

export const StudySummary = z.object({
  id: z.number().int(),
  studyUid: z.string(),
  patientId: z.string(),
  patientName: z.string().nullable(),
  studyDate: z.string().nullable(),
  accession: z.string().nullable(),
  description: z.string().nullable(),
  modalities: z.array(z.string()),
  /** Views present, as laterality + view position: "RCC", "LMLO", ... */
  views: z.array(z.string()),
  images: z.number().int(),
  forProcessing: z.number().int(),
  labels: z.number().int(),
  predictions: z.number().int(),
  prediction: StudyPrediction.nullable(),
});
export type StudySummary = z.infer<typeof StudySummary>;

export const InstanceSummary = z.object({
  id: z.number().int(),
  sopInstanceUid: z.string(),
  seriesUid: z.string(),
  filePath: z.string(),
  modality: z.string().nullable(),
  laterality: z.string().nullable(),
  viewPosition: z.string().nullable(),
  rows: z.number().int().nullable(),
  columns: z.number().int().nullable(),
  bitsStored: z.number().int().nullable(),
  photometric: z.string().nullable(),
  numberOfFrames: z.number().int().nullable(),
  transferSyntaxUid: z.string().nullable(),
  presentationIntent: z.string().nullable(),
  manufacturer: z.string().nullable(),
});
export type InstanceSummary = z.infer<typeof InstanceSummary>;

export const ImportProblem = z.object({
  id: z.number().int(),
  jobId: z.number().int().nullable(),
  filePath: z.string(),
  kind: z.enum(['skipped', 'refused']),
  reason: z.string(),
  createdAt: z.string(),
});
export type ImportProblem = z.infer<typeof ImportProblem>;

export const LabelScope = z.enum(['image', 'breast', 'exam']);
export type LabelScope = z.infer<typeof LabelScope>;

export const TaskClass = z.object({
  /** Short name stored with labels and predictions ("A", "4"). */
  name: z.string().min(1).max(40),
  /** What a person reads on the button ("Almost entirely fat"). */
  label: z.string().min(1).max(120),
  /** Zero-shot prompt templates; several are averaged after normalisation. */
  prompts: z.array(z.string().min(1).max(1000)).min(1),
});
export type TaskClass = z.infer<typeof TaskClass>;

export const TaskInput = z
  .object({
    name: z.string().min(1).max(120),
    description: z.string().max(2000).default(''),
    scope: LabelScope,
    classes: z
      .array(TaskClass)
      .min(2, 'a task needs at least two classes')
      .max(50)
      .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, 'class names must be unique'),
  })
  .strict();
export type TaskInput = z.infer<typeof TaskInput>;

export const Task = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string(),
  scope: LabelScope,
  classes: z.array(TaskClass),
  builtin: z.boolean(),
});
export type Task = z.infer<typeof Task>;

export const LabelTarget = z
  .object({
    taskId: z.number().int().positive(),
    studyId: z.number().int().positive(),
    scope: LabelScope,
    /** Required for scope 'image'. */
    instanceId: z.number().int().positive().optional(),
    /** Required for scope 'breast'. */
    laterality: z.enum(['L', 'R']).optional(),
  })
  .strict()
  .refine((t) => t.scope !== 'image' || t.instanceId !== undefined, { message: 'an image label needs instanceId', path: ['instanceId'] })
  .refine((t) => t.scope !== 'breast' || t.laterality !== undefined, { message: 'a breast label needs laterality', path: ['laterality'] });

export const Label = z.object({
  id: z.number().int(),
  taskId: z.number().int(),
  studyId: z.number().int(),
  scope: LabelScope,
  instanceId: z.number().int().nullable(),
  laterality: z.enum(['L', 'R']).nullable(),
  className: z.string(),
  annotator: z.string(),
  createdAt: z.string(),
});
export type Label = z.infer<typeof Label>;

const StudySort = z
  .object({ key: z.enum(['studyDate', 'patientId', 'accession', 'images']), dir: z.enum(['asc', 'desc']) })
  .default({ key: 'studyDate', dir: 'desc' });

const Page = { limit: z.number().int().min(1).max(1000).default(200), offset: z.number().int().min(0).default(0) };

export const EngineStatus = z.object({
  /** What Settings asks for: auto, cpu or cuda:N. */
  requested: z.string(),
  /** What runs: cpu or cuda:N. */
  provider: z.string(),
  /** False when an explicit cuda:N was requested and cannot load (jobs will fail with the reason). */
  available: z.boolean(),
  /** Why CUDA is not used, when it is not. */
  reason: z.string().nullable(),
  threads: z.number().int(),
  cores: z.number().int(),
  ortVersion: z.string(),
  telemetryDisabled: z.boolean(),
  providers: z.array(z.object({ name: z.string(), status: z.string(), reason: z.string().nullable() })),
});
export type EngineStatus = z.infer<typeof EngineStatus>;

const Empty = z.object({}).strict();
const ById = z.object({ id: z.number().int().positive() }).strict();

export const methods = {
  'app.info': { input: Empty, output: AppInfo },
  'library.stats': { input: Empty, output: LibraryStats },
  /** Starts an import job over files, folders or DICOMDIRs. */
  'library.import': { input: ImportParams.strict(), output: Job },
  'library.studies': {
    input: z
      .object({
        filter: StudyFilter.default({}),
        sort: StudySort,
        ...Page,
        /** Also answer where this study stands in the filtered, sorted list (the viewer's next/previous). */
        locate: z.number().int().positive().optional(),
      })
      .strict(),
    output: z.object({
      total: z.number().int(),
      rows: z.array(StudySummary),
      /** 0-based index of `locate` in the whole list; null when the filter excludes it. */
      position: z.number().int().nullable().optional(),
    }),
  },
  /** Every study id the filter matches, in list order: a selection to classify, not limited to a page. */
  'library.studyIds': {
    input: z.object({ filter: StudyFilter.default({}), sort: StudySort }).strict(),
    output: z.object({ ids: z.array(z.number().int()) }),
  },
  'library.study': {
    input: ById,
    output: z.object({ study: StudySummary, instances: z.array(InstanceSummary) }),
  },
  'library.problems': {
    input: z.object({ jobId: z.number().int().positive().optional(), ...Page }).strict(),
    output: z.object({
      /** The import listed: the one asked for, else the latest (null before any import). */
      jobId: z.number().int().nullable(),
      total: z.number().int(),
      counts: z.object({ skipped: z.number().int(), refused: z.number().int() }),
      /** Skipped split by why (src/common/import-problems.ts); they add up to `total`. */
      groups: z.object({ notDicom: z.number().int(), duplicate: z.number().int(), skipped: z.number().int(), refused: z.number().int() }),
      rows: z.array(ImportProblem),
    }),
  },
  'tasks.list': { input: Empty, output: z.array(Task) },
  'tasks.create': { input: TaskInput, output: Task },
  'tasks.delete': { input: ById, output: z.object({ deleted: z.number().int() }) },
  'labels.forStudy': {
    input: z.object({ studyId: z.number().int().positive(), taskId: z.number().int().positive() }).strict(),
    output: z.array(Label),
  },
  /** Sets the label of one target (replacing any label there); returns what it replaced for undo. */
  'labels.set': {
    input: z.object({ target: LabelTarget, className: z.string().min(1).max(40) }).strict(),
    output: z.object({ label: Label, replaced: Label.nullable() }),
  },
  /** Clears the label of one target; returns what it removed for undo. */
  'labels.clear': { input: z.object({ target: LabelTarget }).strict(), output: z.object({ removed: Label.nullable() }) },
  'labels.progress': {
    input: z.object({ taskId: z.number().int().positive() }).strict(),
    output: z.object({
      studies: z.number().int(),
      labelledStudies: z.number().int(),
      labels: z.number().int(),
      byClass: z.record(z.string(), z.number().int()),
    }),
  },
  /** What importing a label spreadsheet would do (nothing is written): the same report as labels.importApply. */
  'labels.importPreview': { input: LabelImportOptions.extend({ source: LabelFileSource }).strict(), output: LabelImportReport },
  /**
   * Imports a label spreadsheet (CSV, TSV or XLSX) in one transaction: all of it, or, with a refused
   * row and no skipBadRows, nothing (the report says blocked). The report's importId undoes it.
   */
  'labels.importApply': { input: LabelImportOptions.extend({ source: LabelFileSource }).strict(), output: LabelImportReport },
  /** Puts back every label an import touched exactly as it was (refused if any changed since). */
  'labels.importUndo': { input: z.object({ importId: z.number().int().positive() }).strict(), output: LabelImportUndoResult },
  /** A task's labels (one scope or all) as CSV keyed by StudyInstanceUID, AccessionNumber, PatientID, SOPInstanceUID. */
  'labels.export': {
    input: z.object({ taskId: z.number().int().positive(), scope: LabelScope.optional() }).strict(),
    output: z.object({ fileName: z.string(), csv: z.string(), rows: z.number().int() }),
  },
  'models.list': { input: z.object({ kind: ModelKind.optional() }).strict(), output: z.array(ModelRecord) },
  /** Re-inspects a registered model; `hash` re-hashes every file (slow for big models). */
  'models.inspect': {
    input: z.object({ id: z.number().int().positive(), hash: z.boolean().default(false) }).strict(),
    output: z.object({ model: ModelRecord, inspection: ModelInspection }),
  },
  'models.inspectFolder': { input: z.object({ path: FolderPath, hash: z.boolean().default(false) }).strict(), output: ModelInspection },
  'models.import': {
    input: z
      .object({
        path: FolderPath,
        name: z.string().trim().min(1).max(120).optional(),
        copy: z.boolean().default(true),
        adapterBase: FolderPath.optional(),
      })
      .strict(),
    output: ModelRecord,
  },
  'models.delete': { input: ById, output: z.object({ deleted: z.number().int(), removedFolder: z.string().nullable() }) },
  'models.createBundle': {
    input: z
      .object({
        output: FolderPath,
        name: z.string().trim().min(1).max(200).optional(),
        description: z.string().max(10_000).optional(),
        textModel: FolderPath,
        imageModel: FolderPath,
        textAdapter: FolderPath.optional(),
        imageAdapter: FolderPath.optional(),
        heads: FolderPath,
        tokenizer: FolderPath.optional(),
        imagePooling: z.enum(['cls', 'prenorm-mean']).default('cls'),
        maxTextLength: z.number().int().min(2).optional(),
        preset: z.enum(['cleft', 'voi', 'none']).default('cleft'),
        imageSize: z.number().int().positive().optional(),
        overwrite: z.boolean().default(false),
        register: z.boolean().default(true),
      })
      .strict(),
    output: z.object({ dir: z.string(), sha256: z.string(), warnings: z.array(z.string()), model: ModelRecord.nullable() }),
  },
  'models.exportBundle': {
    input: z.object({ id: z.number().int().positive(), destination: FolderPath, overwrite: z.boolean().default(false) }).strict(),
    output: z.object({ dir: z.string(), sha256: z.string() }),
  },
  /**
   * Zero-shot classification of studies as a job (its result names the run). Without modelId the
   * most recently added CLEFT bundle is used. promptSet: a name uses that learned set, null the
   * task's templates, and leaving it out the set active for (model, task) (templates when none is).
   */
  'classify.start': {
    input: ClassifyParams.extend({
      modelId: z.number().int().positive().optional(),
      promptSet: z.string().max(64).nullable().optional(),
    }).strict(),
    output: Job,
  },
  /** The learned prompt sets of a bundle (for one task if given), with their stored metrics and which is active. */
  'promptSets.list': {
    input: z.object({ modelId: z.number().int().positive(), taskId: z.number().int().positive().optional() }).strict(),
    output: z.array(PromptSetInfo),
  },
  /** Makes a prompt set the default of one-click classification for (model, task); null: back to the task's templates. */
  'promptSets.activate': {
    input: z
      .object({ modelId: z.number().int().positive(), taskId: z.number().int().positive(), name: z.string().min(1).max(64).nullable() })
      .strict(),
    output: z.object({ active: z.string().nullable() }),
  },
  /** Prompt context learning (CLEFT stage 2) on the library's labels, as a job; adds a prompt set to the bundle. */
  'train.promptLearn': { input: PromptLearnParams.strict(), output: Job },
  /** The frozen-backbone Adaptor or a linear probe on the library's labels, as a job; adds the head to the bundle. */
  'train.adaptor': { input: TrainAdaptorParams.strict(), output: Job },
  /**
   * Contrastive LoRA training (CLEFT stage 1) on the library's image-report pairs, as a job; the result
   * is a new bundle registered as a model named `name`, and a 'contrastive-lora' run.
   */
  'train.lora': { input: TrainLoraParams.strict(), output: Job },
  /**
   * Imports reports: a CSV (a key column `accession`, `study_uid` or `StudyInstanceUID`, and a `report`
   * or `text` column), a .txt file beside a study's DICOM files, or a folder of such .txt files.
   */
  'reports.import': { input: z.object({ path: z.string().min(1, 'path is required') }).strict(), output: ReportImportResult },
  'reports.forStudy': { input: z.object({ studyId: z.number().int().positive() }).strict(), output: Report.nullable() },
  /** The library's named train/val/test splits (for the Training page's Split field). */
  'splits.list': { input: Empty, output: z.array(SplitInfo) },
  /** A split by patient (or study) of every study, stratified by the task's labels; its notes say where PatientID was missing. */
  'splits.create': { input: SplitCreateInput, output: SplitInfo },
  /** The StudyInstanceUIDs of each part and the counts. */
  'splits.show': { input: z.object({ name: SplitName }).strict(), output: SplitShow },
  /** A CSV with a `split` column (train/val/test) keyed by StudyInstanceUID, AccessionNumber or PatientID (an official split). */
  'splits.import': { input: SplitImportInput, output: SplitImportResult },
  /** Saved DICOMweb archives (never their password or token: secrets are write-only, given to archives.add). */
  'archives.list': { input: Empty, output: z.array(ArchiveInfo) },
  /** Saves an archive; its secret is stored outside the database (0600 file) and never sent back. */
  'archives.add': { input: ArchiveAddInput, output: ArchiveInfo },
  'archives.remove': { input: z.object({ name: ArchiveName }).strict(), output: z.object({ removed: z.string() }) },
  /** Reachability, credentials and which services answer (QIDO-RS, WADO-RS, STOW-RS); stores nothing. */
  'archives.test': { input: z.object({ name: ArchiveName }).strict(), output: ArchiveTestResult },
  /** QIDO-RS study search, each study with whether the library already holds it. */
  'archives.query': { input: z.object({ name: ArchiveName, query: ArchiveQuery }).strict(), output: z.array(ArchiveStudy) },
  /** The series of one study of the archive (on demand, for a study's detail). */
  'archives.series': {
    input: z.object({ name: ArchiveName, studyUid: z.string().regex(/^[0-9.]{1,64}$/, 'a DICOM UID') }).strict(),
    output: z.array(ArchiveSeries),
  },
  /** Deletes a split; refused (conflict, naming them) while a run or job names it, unless `force`. */
  'splits.delete': { input: SplitDeleteInput, output: SplitDeleteResult },
  /** "Where the model looks" for the images of one study as one short job; its result is an ExplainStudyResult. */
  'explain.start': { input: ExplainParams.strict(), output: Job },
  /** The offline demo (phantoms, a small model trained on them, metrics), imported into the library. */
  'demo.start': { input: DemoParams.strict(), output: Job },
  /** Retrieve studies from a saved DICOMweb archive into the library as a `pacs-retrieve` job (an unknown archive is refused at once). */
  'archives.retrieve': { input: PacsRetrieveParams.strict(), output: Job },
  'runs.list': {
    input: z.object({ taskId: z.number().int().positive().optional(), kind: RunKind.optional() }).strict(),
    output: z.array(Run),
  },
  'runs.get': { input: ById, output: Run },
  /**
   * One study's predictions (every scope) from the newest zero-shot run of a task that covered it,
   * optionally only runs of one model and prompt set (null = task templates) or one run: the
   * viewer shows them at once instead of classifying again. null when no such run exists.
   */
  'runs.studyPredictions': {
    input: z
      .object({
        studyId: z.number().int().positive(),
        taskId: z.number().int().positive(),
        modelId: z.number().int().positive().optional(),
        promptSet: z.string().max(64).nullable().optional(),
        runId: z.number().int().positive().optional(),
      })
      .strict(),
    output: z.object({ run: Run, predictions: z.array(Prediction) }).nullable(),
  },
  'runs.predictions': {
    input: z
      .object({
        runId: z.number().int().positive(),
        filter: PredictionFilter.default({}),
        sort: z
          .object({ key: z.enum(['confidence', 'studyDate', 'predictedClass', 'patientId']), dir: z.enum(['asc', 'desc']) })
          .default({ key: 'confidence', dir: 'desc' }),
        ...Page,
      })
      .strict(),
    output: z.object({ total: z.number().int(), rows: z.array(Prediction) }),
  },
  /** Metrics of a run against the labels of its task at one scope; stored with the run. */
  'runs.evaluate': {
    input: z
      .object({
        runId: z.number().int().positive(),
        scope: PredictionScope,
        /** Resamples for the 95% intervals (at least 10: every reported interval is a real one). */
        bootstrapSamples: z.number().int().min(10, 'at least 10 bootstrap samples').max(10_000).default(1000),
        seed: z.number().int().default(0),
        /** false (default): only the studies the run's model, prompt set and adaptor never trained or validated on. */
        includeTraining: z.boolean().default(false),
      })
      .strict(),
    output: ClassificationReport,
  },
  /** Runs of a task compared at one scope: on the targets all of them predicted, and each on its own. */
  'runs.compare': {
    input: z
      .object({
        taskId: z.number().int().positive(),
        scope: PredictionScope,
        /** Default: the task's 12 newest runs that have predictions. */
        runIds: z.array(z.number().int().positive()).min(1).max(50).optional(),
        bootstrapSamples: z.number().int().min(10, 'at least 10 bootstrap samples').max(10_000).default(200),
        seed: z.number().int().default(0),
        /** false (default): only the studies the run's model, prompt set and adaptor never trained or validated on. */
        includeTraining: z.boolean().default(false),
      })
      .strict(),
    output: RunComparison,
  },
  /**
   * A run's predictions as CSV keyed by DICOM UIDs (src/main/runs/csv.ts has the columns);
   * `pseudonymize`: PatientID and AccessionNumber as keyed hashes (the key stays in the library).
   */
  'runs.exportCsv': {
    input: z
      .object({ runId: z.number().int().positive(), scope: PredictionScope.optional(), pseudonymize: z.boolean().default(false) })
      .strict(),
    output: z.object({ fileName: z.string(), csv: z.string(), rows: z.number().int() }),
  },
  /**
   * One DICOM Structured Report (Comprehensive SR, docs/sr.md) per study of a classification run,
   * written into `outputDir` (created if needed); `studyUids` limits it to those studies, each of
   * which must have predictions in the run. A study whose report cannot be made is listed in
   * `failed` with the reason; the others are written.
   */
  'sr.export': {
    input: z
      .object({
        runId: z.number().int().positive(),
        studyUids: z.array(z.string().min(1).max(64)).max(10_000).optional(),
        outputDir: FolderPath,
      })
      .strict(),
    output: z.object({
      runId: z.number().int(),
      files: z.array(z.object({ studyUid: z.string(), file: z.string(), sopInstanceUid: z.string(), seriesInstanceUid: z.string() })),
      failed: z.array(z.object({ studyUid: z.string(), reason: z.string() })),
      /** Reports written with less than usual: the source header was unreadable, the library's index was used. */
      warnings: z.array(z.object({ studyUid: z.string(), message: z.string() })),
    }),
  },
  /**
   * "Send results to archive": the run's SRs (as sr.export makes them) sent to a saved archive with
   * STOW-RS, one answer per study; `studyUids` limits it to those studies.
   */
  'sr.send': {
    input: z
      .object({
        runId: z.number().int().positive(),
        archive: ArchiveName,
        studyUids: z.array(z.string().min(1).max(64)).max(10_000).optional(),
      })
      .strict(),
    output: SrSendResult,
  },
  'jobs.list': {
    input: z
      .object({ status: JobStatus.optional(), kind: z.string().max(40).optional(), limit: z.number().int().min(1).max(1000).default(100) })
      .strict(),
    output: z.array(Job),
  },
  'jobs.get': { input: ById, output: Job },
  'jobs.metrics': { input: ById, output: z.array(MetricPoint) },
  'jobs.start': { input: JobSpec, output: Job },
  'jobs.cancel': { input: ById, output: Job },
  'jobs.resume': { input: ById, output: Job },
  'settings.get': { input: Empty, output: Settings },
  /** Execution provider in use and why; probed in a worker, cached until `refresh`. */
  'engine.status': { input: z.object({ refresh: z.boolean().default(false) }).strict(), output: EngineStatus },
  'settings.update': { input: Settings.partial().strict(), output: Settings },
  /** A native folder picker; only the desktop app has one (the web host answers `unsupported`). */
  'dialog.openFolder': {
    input: z.object({ title: z.string().max(200).optional() }).strict(),
    output: z.object({ path: z.string().nullable() }),
  },
} as const;

/** Commands from the desktop shell (app menu, second launch) that the UI carries out. */
export const UiCommand = z.discriminatedUnion('command', [
  z.object({
    command: z.literal('navigate'),
    page: z.enum(PAGE_IDS),
  }),
  z.object({ command: z.literal('import-folder'), path: z.string() }),
]);
export type UiCommand = z.infer<typeof UiCommand>;

export const events = {
  'job.updated': Job,
  /** Sent by the web host every 30 s so a browser notices a dead connection after sleep. */
  'host.heartbeat': z.object({ at: z.string() }),
  /** A training-curve point of a running job (loss, learning rate, validation metrics). */
  'job.metric': z.object({ jobId: z.number().int(), point: MetricPoint }),
  'ui.command': UiCommand,
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type MethodInput<M extends MethodName> = z.input<Methods[M]['input']>;
export type MethodParsedInput<M extends MethodName> = z.output<Methods[M]['input']>;
export type MethodOutput<M extends MethodName> = z.output<Methods[M]['output']>;
export type EventName = keyof typeof events;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

export const METHOD_NAMES = Object.keys(methods) as MethodName[];
export const EVENT_NAMES = Object.keys(events) as EventName[];

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(methods, name);
}
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(events, name);
}

/**
 * What the renderer talks to. `window.cleft` in Electron and the HTTP/WebSocket client in a browser
 * both implement it, so UI code never knows which transport it uses.
 */
export interface CleftClient {
  readonly transport: 'ipc' | 'http';
  invoke<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}
