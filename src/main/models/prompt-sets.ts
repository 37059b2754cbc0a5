// Learned prompt sets of a bundle and the one active per (model, task). The bundle manifest is the
// truth about which sets exist (they travel with the bundle); the choice of the active one is a
// preference of this library (db/prompt-sets-repo.ts; a name that left the bundle reads as none).
import { CleftError } from '../../common/errors';
import type { PromptSetInfo } from '../../common/models';
import type { Db } from '../db/database';
import { PromptSetsRepo } from '../db/prompt-sets-repo';
import { TasksRepo } from '../db/tasks-repo';
import { openBundle } from '../../native/bundle/index';
import { getModel } from './registry';

/** The prompt sets stored in a registered bundle, optionally only those learned for one task. */
export async function listPromptSets(db: Db, modelId: number, taskId?: number): Promise<PromptSetInfo[]> {
  const model = getModel(db, modelId);
  if (model.kind !== 'bundle')
    throw new CleftError('invalid_input', `model "${model.name}" is a ${model.kind}; only CLEFT bundles hold prompt sets`);
  const bundle = await openBundle(model.path, { verify: 'sizes' });
  const tasks = new TasksRepo(db).list();
  const taskName = taskId === undefined ? undefined : new TasksRepo(db).get(taskId).name;
  const chosen = new PromptSetsRepo(db);
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
        active: tid !== null && chosen.active(modelId, tid) === p.name,
      };
    });
}

/** The active prompt set of (model, task) if the bundle still holds it for that task, else null (task templates). */
export async function activePromptSet(db: Db, modelId: number, taskId: number): Promise<string | null> {
  const name = new PromptSetsRepo(db).active(modelId, taskId);
  if (name === null) return null;
  const sets = await listPromptSets(db, modelId, taskId);
  return sets.some((s) => s.name === name) ? name : null;
}

/** Makes `name` the default for (model, task); null goes back to the task's templates. */
export async function activatePromptSet(db: Db, modelId: number, taskId: number, name: string | null): Promise<{ active: string | null }> {
  const sets = await listPromptSets(db, modelId, taskId);
  if (name === null) {
    new PromptSetsRepo(db).setActive(modelId, taskId, null);
    return { active: null };
  }
  if (!sets.some((s) => s.name === name)) {
    const task = new TasksRepo(db).get(taskId).name;
    throw new CleftError(
      'invalid_input',
      `model "${getModel(db, modelId).name}" has no prompt set "${name}" for "${task}" (has: ${sets.map((s) => s.name).join(', ') || 'none'})`,
    );
  }
  new PromptSetsRepo(db).setActive(modelId, taskId, name);
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
