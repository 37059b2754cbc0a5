// Classification tasks: classes with prompt templates. The built-in mammography tasks (breast
// density A-D, BI-RADS 0-6, prompts as used for EMBED) come from resources/tasks and are kept in
// sync with the app at every start; custom tasks are the researcher's own.
import { CleftError } from '../../common/errors';
import { Task, TaskInput, TaskClass, type LabelScope } from '../../common/contract';
import type { Db } from './database';
import birads from '../../../resources/tasks/birads.json';
import density from '../../../resources/tasks/breast-density.json';

export const BUILTIN_TASKS: TaskInput[] = [density, birads].map((t) => TaskInput.parse(t));

interface TaskRow {
  id: number;
  name: string;
  description: string | null;
  classes_json: string;
  default_scope: LabelScope;
  builtin: number;
}

export class TasksRepo {
  constructor(private readonly db: Db) {}

  /** Inserts or refreshes the built-in tasks (prompts may improve between releases). */
  seedBuiltins(): void {
    const upsert = this.db.prepare(
      `INSERT INTO tasks (name, description, classes_json, default_scope, builtin) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT(name) DO UPDATE SET description = excluded.description, classes_json = excluded.classes_json,
         default_scope = excluded.default_scope, builtin = 1`,
    );
    this.db
      .transaction(() => {
        for (const t of BUILTIN_TASKS) upsert.run(t.name, t.description, JSON.stringify(t.classes), t.scope);
      })
      .immediate();
  }

  list(): Task[] {
    const rows = this.db.prepare(`SELECT * FROM tasks ORDER BY builtin DESC, name`).all() as TaskRow[];
    return rows.map(toTask);
  }

  get(id: number): Task {
    const row = this.db.prepare(`SELECT * FROM tasks WHERE id = ?`).get(id) as TaskRow | undefined;
    if (!row) throw new CleftError('not_found', `no task with id ${id}`);
    return toTask(row);
  }

  /** The task of this name, compared without case (as a command line names it), or null. */
  findByName(name: string): Task | null {
    const row = this.db.prepare(`SELECT * FROM tasks WHERE lower(name) = lower(?)`).get(name) as TaskRow | undefined;
    return row ? toTask(row) : null;
  }

  create(input: TaskInput): Task {
    const exists = this.db.prepare(`SELECT 1 FROM tasks WHERE name = ?`).get(input.name);
    if (exists) throw new CleftError('conflict', `a task named "${input.name}" already exists`);
    const info = this.db
      .prepare(`INSERT INTO tasks (name, description, classes_json, default_scope, builtin) VALUES (?, ?, ?, ?, 0)`)
      .run(input.name, input.description, JSON.stringify(input.classes), input.scope);
    return this.get(Number(info.lastInsertRowid));
  }

  delete(id: number): void {
    const task = this.get(id);
    if (task.builtin) throw new CleftError('conflict', `"${task.name}" is built in and cannot be deleted`);
    this.db.prepare(`DELETE FROM tasks WHERE id = ?`).run(id);
  }
}

function toTask(r: TaskRow): Task {
  return {
    id: r.id,
    name: r.name,
    description: r.description ?? '',
    scope: r.default_scope,
    classes: TaskClass.array().parse(JSON.parse(r.classes_json)),
    builtin: r.builtin === 1,
  };
}

export { Task };
