// Versioned schema migrations. The database's `user_version` is the number of migrations applied;
// at start every newer migration runs inside one transaction each. Never edit a shipped migration:
// add a new one, so databases created by older versions upgrade in place.

import type { Db } from './database';
import { relativiseModelPaths } from './model-paths';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** A step SQL alone cannot express, run after `sql` in the same transaction. */
  up?: (db: Db) => void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'library, tasks, labels, models, jobs, predictions, embeddings',
    sql: `
      CREATE TABLE patients (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL,
        patient_name TEXT,
        birth_date TEXT,
        sex TEXT,
        UNIQUE (patient_id)
      );
      CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        patient_ref INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
        study_uid TEXT NOT NULL UNIQUE,
        study_date TEXT,
        study_time TEXT,
        accession TEXT,
        description TEXT
      );
      CREATE INDEX studies_patient ON studies(patient_ref);
      CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        study_ref INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        series_uid TEXT NOT NULL UNIQUE,
        modality TEXT,
        series_number INTEGER,
        description TEXT
      );
      CREATE INDEX series_study ON series(study_ref);
      CREATE TABLE instances (
        id INTEGER PRIMARY KEY,
        series_ref INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
        sop_instance_uid TEXT NOT NULL UNIQUE,
        sop_class_uid TEXT,
        file_path TEXT NOT NULL,
        file_size INTEGER NOT NULL,
        file_mtime_ms INTEGER NOT NULL,
        transfer_syntax_uid TEXT,
        modality TEXT,
        presentation_intent TEXT,
        manufacturer TEXT,
        manufacturer_model TEXT,
        laterality TEXT,
        view_position TEXT,
        rows INTEGER,
        columns INTEGER,
        bits_allocated INTEGER,
        bits_stored INTEGER,
        pixel_representation INTEGER,
        photometric TEXT,
        number_of_frames INTEGER,
        pixel_spacing TEXT,
        instance_number INTEGER,
        indexed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX instances_series ON instances(series_ref);
      CREATE UNIQUE INDEX instances_path ON instances(file_path);

      CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        -- JSON: [{ "name": "A", "label": "Almost entirely fat", "prompts": ["This is ..."] }, ...]
        classes_json TEXT NOT NULL,
        default_scope TEXT NOT NULL DEFAULT 'image' CHECK (default_scope IN ('image', 'breast', 'exam')),
        builtin INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        task_ref INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        scope TEXT NOT NULL CHECK (scope IN ('image', 'breast', 'exam')),
        study_ref INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        instance_ref INTEGER REFERENCES instances(id) ON DELETE CASCADE,
        laterality TEXT CHECK (laterality IN ('L', 'R') OR laterality IS NULL),
        class_name TEXT NOT NULL,
        annotator TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX labels_study ON labels(study_ref, task_ref);

      CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL, -- 'bundle' | 'hf-text' | 'hf-image' | 'peft-adapter'
        path TEXT NOT NULL,
        manifest_json TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE TABLE prompt_sets (
        id INTEGER PRIMARY KEY,
        model_ref INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        task_ref INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL, -- 'templates' | 'learned'
        path TEXT,
        sha256 TEXT NOT NULL,
        metrics_json TEXT,
        active INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );

      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
        params_json TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        result_json TEXT,
        error TEXT,
        checkpoint_path TEXT,
        -- Increases with every change, so clients can tell which of two copies is newer.
        revision INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        started_at TEXT,
        finished_at TEXT
      );
      CREATE INDEX jobs_status ON jobs(status);

      CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        job_ref INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        task_ref INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        model_ref INTEGER REFERENCES models(id) ON DELETE SET NULL,
        prompt_set_ref INTEGER REFERENCES prompt_sets(id) ON DELETE SET NULL,
        scope TEXT NOT NULL CHECK (scope IN ('image', 'breast', 'exam')),
        study_ref INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        instance_ref INTEGER REFERENCES instances(id) ON DELETE CASCADE,
        laterality TEXT,
        probabilities_json TEXT NOT NULL,
        predicted_class TEXT NOT NULL,
        -- hashes of model, adapters, prompt set, preprocessing, selection and the provider that ran
        run_record_json TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX predictions_study ON predictions(study_ref, task_ref);

      CREATE TABLE embeddings (
        id INTEGER PRIMARY KEY,
        model_sha256 TEXT NOT NULL,
        instance_ref INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
        preprocess_sha256 TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL, -- float32 little endian
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (model_sha256, instance_ref, preprocess_sha256)
      );
    `,
  },
  {
    version: 2,
    name: 'settings and import problems',
    sql: `
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value_json TEXT NOT NULL
      );
      -- Files an import skipped or refused, with the reason, so researchers can see what was left out.
      CREATE TABLE import_problems (
        id INTEGER PRIMARY KEY,
        job_ref INTEGER REFERENCES jobs(id) ON DELETE CASCADE,
        file_path TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('skipped', 'refused')),
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX import_problems_job ON import_problems(job_ref);
      -- Label lookups by task across the library (progress counts on the Labels page).
      CREATE INDEX labels_task ON labels(task_ref, scope);

      -- One row per classification, training or evaluation run: what ran (hashes of model, adapters,
      -- prompt set, preprocessing, data selection; the execution provider that actually ran) and
      -- its metrics, so runs can be compared.
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('zero-shot', 'prompt-learning', 'contrastive-lora', 'adaptor', 'evaluation')),
        job_ref INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        model_ref INTEGER REFERENCES models(id) ON DELETE SET NULL,
        task_ref INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
        prompt_set_ref INTEGER REFERENCES prompt_sets(id) ON DELETE SET NULL,
        name TEXT NOT NULL,
        record_json TEXT NOT NULL,
        metrics_json TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX runs_task ON runs(task_ref, kind);
      ALTER TABLE predictions ADD COLUMN run_ref INTEGER REFERENCES runs(id) ON DELETE CASCADE;
      CREATE INDEX predictions_run ON predictions(run_ref);
    `,
  },
  {
    version: 3,
    name: 'reports',
    sql: `
      -- The free-text report of a study (image-report pairs for contrastive LoRA training): one
      -- current report per study, replaced when imported again; the file it came from is kept.
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        study_ref INTEGER NOT NULL UNIQUE REFERENCES studies(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        source_file TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
    `,
  },
  {
    version: 4,
    name: 'job runner',
    sql: `
      -- One process runs a library's jobs at a time (it holds the OS lock on job-runner.lock); this
      -- row says which one, for the others to name it. Rewritten by each new runner.
      CREATE TABLE job_runner (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      );
      -- The process running a job and when it last said it was alive; cancel_requested is how a
      -- process that does not run the job asks the runner to cancel it.
      ALTER TABLE jobs ADD COLUMN owner_pid INTEGER;
      ALTER TABLE jobs ADD COLUMN heartbeat_at TEXT;
      ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 5,
    name: 'model paths relative to the library',
    // models.path inside the library (the registry's copies, LoRA job bundles) and prompt_sets.path
    // become relative, so a copied library uses and writes into its own models, not the original's.
    sql: '',
    up: relativiseModelPaths,
  },
  {
    version: 6,
    name: 'label imports (undo) and accession lookups',
    sql: `
      -- A label spreadsheet applied to the library; undone_at is set once its one Undo ran.
      CREATE TABLE IF NOT EXISTS label_imports (
        id INTEGER PRIMARY KEY,
        task_ref INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        file TEXT NOT NULL,
        report_json TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        undone_at TEXT
      );
      -- Every label an import wrote, with what was there before (prev_* NULL: the import created it)
      -- and what it wrote, so Undo restores the labels exactly and sees any change made since.
      -- No foreign key to labels: a label deleted since the import must not erase its history.
      CREATE TABLE IF NOT EXISTS label_import_changes (
        import_ref INTEGER NOT NULL REFERENCES label_imports(id) ON DELETE CASCADE,
        label_id INTEGER NOT NULL,
        prev_class TEXT,
        prev_annotator TEXT,
        prev_created_at TEXT,
        new_class TEXT NOT NULL,
        new_annotator TEXT NOT NULL,
        new_created_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS label_import_changes_import ON label_import_changes(import_ref);
      -- Label files are often keyed by accession: one index lookup per row, not a scan.
      CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession);
    `,
  },
  {
    version: 7,
    name: 'named splits',
    sql: `
      -- A named train/validation/test split of the library's studies: made here by patient (or study),
      -- stratified by a task's labels, or imported (an official dataset split). sha256 is the content
      -- hash of its three StudyInstanceUID lists, recorded by every training that uses it.
      -- IF NOT EXISTS: a library set back to an older user_version (a copy of a pre-upgrade library,
      -- as tests make one) runs this again without losing its splits.
      CREATE TABLE IF NOT EXISTS splits (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL CHECK (source IN ('created', 'imported')),
        task_ref INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
        -- how it was made: { by, fractions, seed } or { file }
        params_json TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        -- what its maker said (fallback to StudyInstanceUID, patients in two parts)
        notes_json TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE TABLE IF NOT EXISTS split_studies (
        split_ref INTEGER NOT NULL REFERENCES splits(id) ON DELETE CASCADE,
        study_ref INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        part TEXT NOT NULL CHECK (part IN ('train', 'val', 'test')),
        PRIMARY KEY (split_ref, study_ref)
      );
      CREATE INDEX IF NOT EXISTS split_studies_study ON split_studies(study_ref);
    `,
  },
  {
    version: 8,
    name: 'archive connections',
    sql: `
      -- Saved DICOMweb archives (QIDO-RS, WADO-RS, STOW-RS). The password or token is NOT here: it
      -- lives in secrets/ under the data folder, 0600 (src/main/archive/secret-store.ts), so a copy
      -- of the database shared for support or a paper carries no credentials.
      CREATE TABLE IF NOT EXISTS archives (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        auth_kind TEXT NOT NULL CHECK (auth_kind IN ('none', 'basic', 'bearer')),
        auth_user TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
    `,
  },
  {
    version: 9,
    name: 'class text embeddings cache',
    sql: `
      -- Class text embeddings [classes, dim] (float32 little endian) of a prompt set for a bundle, so
      -- classification never encodes unchanged prompts again. key_sha256 is classEmbeddingKey
      -- (src/native/cleft/zero-shot.ts): text encoder + adapter + tokenizer + pooling, heads, prompts
      -- (templates' texts, or a learned set's context bytes and class texts) and the formula version.
      -- prompts_ref names the prompt source (one row per model and source: a changed prompt replaces
      -- it). Rows go with their model (ON DELETE CASCADE).
      CREATE TABLE IF NOT EXISTS class_embeddings (
        model_ref INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        prompts_ref TEXT NOT NULL,
        key_sha256 TEXT NOT NULL,
        class_names_json TEXT NOT NULL,
        dim INTEGER NOT NULL,
        matrix BLOB NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (model_ref, prompts_ref)
      );
    `,
  },
  {
    version: 10,
    name: 'PixelSpacing and ImagerPixelSpacing apart',
    sql: `
      -- pixel_spacing holds PixelSpacing (0028,0030) only; ImagerPixelSpacing (0018,1164) gets its own
      -- column, so the index says which the file has (a length in mm means something else for each).
      -- Backfill: none. Rows indexed before keep what they had: pixel_spacing may hold an
      -- ImagerPixelSpacing copied in as a fallback, imager_pixel_spacing stays NULL until the file
      -- is imported again. The viewer's ruler reads both tags from the file itself, not from here.
      -- (The column is added in up(): SQLite has no ADD COLUMN IF NOT EXISTS, and a migration must
      -- be safe to run on a schema that already has it.)
    `,
    up: (db) => {
      const columns = db.prepare(`SELECT name FROM pragma_table_info('instances')`).all() as { name: string }[];
      if (!columns.some((c) => c.name === 'imager_pixel_spacing')) db.exec(`ALTER TABLE instances ADD COLUMN imager_pixel_spacing TEXT`);
    },
  },
];

export const LATEST_SCHEMA_VERSION = migrations[migrations.length - 1]!.version;
