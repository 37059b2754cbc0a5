// Learned prompt sets of a bundle and the one active per (model, task). The bundle manifest is the
// truth about which sets exist (they travel with the bundle); the choice of the active one is a
// preference of this library, so it lives in the `settings` key/value table under
// `promptSet.active.<modelId>.<taskId>` (no schema change; a name that left the bundle reads as none).
import { CleftError } from '../../common/errors';
import type { PromptSetInfo } from '../../common/models';
import type { Db } from '../db/database';
import { TasksRepo } from '../db/tasks-repo';
import { openBundle } from '../../native/bundle/index';
import { getModel } from './registry';

const KEY_PREFIX = 'promptSet.active.';
const activeKey = (modelId: number, taskId: number): string => `${KEY_PREFIX}${modelId}.${taskId}`;

/** The prompt sets stored in a registered bundle, optionally only those learned for one task. */
export async function listPromptSets(db: Db, modelId: number, taskId?: number): Promise<PromptSetInfo[]> {
  const model = getModel(db, modelId);
  if (model.kind !== 'bundle')
    throw new CleftError('invalid_input', `model "${model.name}" is a ${model.kind}; only CLEFT bundles hold prompt sets`);
  const bundle = await openBundle(model.path, { verify: 'sizes' });
  const tasks = new TasksRepo(db).list();
  const taskName = taskId === undefined ? undefined : new TasksRepo(db).get(taskId).name;
  return bundle.promptSets
    .filter((p) => taskName === undefined || p.task === taskName)
    .map((p) => {
      const tid = tasks.find((t) => t.name === p.task)?.id ?? null;
      return {
        name: p.name,
        task: p.task,
        taskId: tid,
        classNames: p.classNames,
        nCtx: p.nCtx,
        initPhrase: p.initPhrase,
        metrics: p.metrics,
        training: p.training,
        createdAt: p.createdAt,
        active: tid !== null && storedActive(db, modelId, tid) === p.name,
      };
    });
}

/** The stored choice, unchecked against the bundle. */
function storedActive(db: Db, modelId: number, taskId: number): string | null {
  const row = db.prepare(`SELECT value_json FROM settings WHERE key = ?`).get(activeKey(modelId, taskId)) as
    { value_json: string } | undefined;
  if (!row) return null;
  const value = JSON.parse(row.value_json) as unknown;
  return typeof value === 'string' ? value : null;
}

/** The active prompt set of (model, task) if the bundle still holds it for that task, else null (task templates). */
export async function activePromptSet(db: Db, modelId: number, taskId: number): Promise<string | null> {
  const name = storedActive(db, modelId, taskId);
  if (name === null) return null;
  const sets = await listPromptSets(db, modelId, taskId);
  return sets.some((s) => s.name === name) ? name : null;
}

/** Makes `name` the default for (model, task); null goes back to the task's templates. */
export async function activatePromptSet(db: Db, modelId: number, taskId: number, name: string | null): Promise<{ active: string | null }> {
  const sets = await listPromptSets(db, modelId, taskId);
  if (name === null) {
    db.prepare(`DELETE FROM settings WHERE key = ?`).run(activeKey(modelId, taskId));
    return { active: null };
  }
  if (!sets.some((s) => s.name === name)) {
    const task = new TasksRepo(db).get(taskId).name;
    throw new CleftError(
      'invalid_input',
      `model "${getModel(db, modelId).name}" has no prompt set "${name}" for "${task}" (has: ${sets.map((s) => s.name).join(', ') || 'none'})`,
    );
  }
  db.prepare(`INSERT INTO settings (key, value_json) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json`).run(
    activeKey(modelId, taskId),
    JSON.stringify(name),
  );
  return { active: name };
}

/**
 * The prompt set a classification uses: a name as given, null as the task's templates, and
 * undefined (not named) as the active set of (model, task), or the templates when none is active.
 */
export async function resolveClassifyPromptSet(
  db: Db,
  modelId: number,
  taskId: number,
  requested: string | null | undefined,
): Promise<string | null> {
  return requested === undefined ? activePromptSet(db, modelId, taskId) : requested;
}

/** Forgets the choices of a deleted model (ids can be reused by the next import). */
export function forgetActivePromptSets(db: Db, modelId: number): void {
  // '.' is literal in LIKE, so model 1 does not match model 12's keys.
  db.prepare(`DELETE FROM settings WHERE key LIKE ?`).run(`${KEY_PREFIX}${modelId}.%`);
}
