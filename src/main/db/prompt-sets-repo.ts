// The library's records of learned prompt sets: the `prompt_sets` rows that name a set a training
// job added to a bundle (runs point at them), and the set chosen as active per (model, task). The
// choice is a preference of this library, kept in the `settings` key/value table under
// `promptSet.active.<modelId>.<taskId>` (no schema change).
import type { Db } from './database';

const KEY_PREFIX = 'promptSet.active.';
const activeKey = (modelId: number, taskId: number): string => `${KEY_PREFIX}${modelId}.${taskId}`;

export interface NewLearnedPromptSet {
  modelId: number;
  taskId: number;
  name: string;
  /** The set's file inside the bundle. */
  path: string;
  sha256: string;
  metrics: unknown;
}

export class PromptSetsRepo {
  constructor(private readonly db: Db) {}

  /** Records a prompt set a job learned into a bundle; returns its row id. */
  addLearned(set: NewLearnedPromptSet): number {
    const info = this.db
      .prepare(`INSERT INTO prompt_sets (model_ref, task_ref, name, kind, path, sha256, metrics_json) VALUES (?, ?, ?, 'learned', ?, ?, ?)`)
      .run(set.modelId, set.taskId, set.name, set.path, set.sha256, JSON.stringify(set.metrics));
    return Number(info.lastInsertRowid);
  }

  /** The latest row recorded for the model's set of this name (one learned here), or null. */
  latestId(modelId: number, name: string): number | null {
    const row = this.db
      .prepare(`SELECT id FROM prompt_sets WHERE model_ref = ? AND name = ? ORDER BY id DESC LIMIT 1`)
      .get(modelId, name) as { id: number } | undefined;
    return row?.id ?? null;
  }

  /** The stored choice of active set for (model, task), unchecked against the bundle; null for none. */
  active(modelId: number, taskId: number): string | null {
    const row = this.db.prepare(`SELECT value_json FROM settings WHERE key = ?`).get(activeKey(modelId, taskId)) as
      { value_json: string } | undefined;
    if (!row) return null;
    const value = JSON.parse(row.value_json) as unknown;
    return typeof value === 'string' ? value : null;
  }

  /** Stores the active set of (model, task); null forgets the choice (the task's templates). */
  setActive(modelId: number, taskId: number, name: string | null): void {
    if (name === null) this.db.prepare(`DELETE FROM settings WHERE key = ?`).run(activeKey(modelId, taskId));
    else
      this.db
        .prepare(`INSERT INTO settings (key, value_json) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json`)
        .run(activeKey(modelId, taskId), JSON.stringify(name));
  }

  /** Forgets the choices of a deleted model (ids can be reused by the next import). */
  forgetModel(modelId: number): void {
    // '.' is literal in LIKE, so model 1 does not match model 12's keys.
    this.db.prepare(`DELETE FROM settings WHERE key LIKE ?`).run(`${KEY_PREFIX}${modelId}.%`);
  }
}
