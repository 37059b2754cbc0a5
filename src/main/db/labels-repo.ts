// Labels: one class per target (an image, a breast or an exam of a study) per task. Setting a
// label replaces the one there and returns it, so the UI can undo; every write commits at once.
import { CleftError } from '../../common/errors';
import type { Label, LabelScope } from '../../common/contract';
import type { Db } from './database';
import type { TasksRepo } from './tasks-repo';

export interface Target {
  taskId: number;
  studyId: number;
  scope: LabelScope;
  instanceId?: number | undefined;
  laterality?: 'L' | 'R' | undefined;
}

interface LabelRow {
  id: number;
  task_ref: number;
  study_ref: number;
  scope: LabelScope;
  instance_ref: number | null;
  laterality: 'L' | 'R' | null;
  class_name: string;
  annotator: string;
  created_at: string;
}

export class LabelsRepo {
  constructor(
    private readonly db: Db,
    private readonly tasks: TasksRepo,
  ) {}

  forStudy(studyId: number, taskId: number): Label[] {
    const rows = this.db
      .prepare(`SELECT * FROM labels WHERE study_ref = ? AND task_ref = ? ORDER BY id`)
      .all(studyId, taskId) as LabelRow[];
    return rows.map(toLabel);
  }

  set(target: Target, className: string, annotator: string): { label: Label; replaced: Label | null } {
    const task = this.tasks.get(target.taskId);
    if (!task.classes.some((c) => c.name === className)) {
      throw new CleftError(
        'invalid_input',
        `"${className}" is not a class of ${task.name} (${task.classes.map((c) => c.name).join(', ')})`,
      );
    }
    this.checkTarget(target);
    return this.db
      .transaction(() => {
        const replaced = this.find(target);
        if (replaced) this.db.prepare(`DELETE FROM labels WHERE id = ?`).run(replaced.id);
        const info = this.db
          .prepare(
            `INSERT INTO labels (task_ref, scope, study_ref, instance_ref, laterality, class_name, annotator) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(target.taskId, target.scope, target.studyId, target.instanceId ?? null, target.laterality ?? null, className, annotator);
        const label = toLabel(this.db.prepare(`SELECT * FROM labels WHERE id = ?`).get(info.lastInsertRowid) as LabelRow);
        return { label, replaced };
      })
      .immediate();
  }

  clear(target: Target): Label | null {
    const existing = this.find(target);
    if (existing) this.db.prepare(`DELETE FROM labels WHERE id = ?`).run(existing.id);
    return existing;
  }

  progress(taskId: number): { studies: number; labelledStudies: number; labels: number; byClass: Record<string, number> } {
    this.tasks.get(taskId);
    const studies = (this.db.prepare(`SELECT count(*) n FROM studies`).get() as { n: number }).n;
    const labelledStudies = (
      this.db.prepare(`SELECT count(DISTINCT study_ref) n FROM labels WHERE task_ref = ?`).get(taskId) as { n: number }
    ).n;
    const rows = this.db.prepare(`SELECT class_name, count(*) n FROM labels WHERE task_ref = ? GROUP BY class_name`).all(taskId) as {
      class_name: string;
      n: number;
    }[];
    const byClass = Object.fromEntries(rows.map((r) => [r.class_name, r.n]));
    return { studies, labelledStudies, labels: rows.reduce((s, r) => s + r.n, 0), byClass };
  }

  private find(t: Target): Label | null {
    const row = this.db
      .prepare(
        `SELECT * FROM labels WHERE task_ref = ? AND study_ref = ? AND scope = ?
           AND instance_ref IS ? AND laterality IS ?`,
      )
      .get(
        t.taskId,
        t.studyId,
        t.scope,
        t.scope === 'image' ? (t.instanceId ?? null) : null,
        t.scope === 'breast' ? (t.laterality ?? null) : null,
      ) as LabelRow | undefined;
    return row ? toLabel(row) : null;
  }

  private checkTarget(t: Target): void {
    const study = this.db.prepare(`SELECT 1 FROM studies WHERE id = ?`).get(t.studyId);
    if (!study) throw new CleftError('not_found', `no study with id ${t.studyId}`);
    if (t.scope === 'image') {
      const inStudy = this.db
        .prepare(`SELECT 1 FROM instances i JOIN series se ON se.id = i.series_ref WHERE i.id = ? AND se.study_ref = ?`)
        .get(t.instanceId, t.studyId);
      if (!inStudy) throw new CleftError('not_found', `image ${t.instanceId} is not part of study ${t.studyId}`);
    }
  }
}

function toLabel(r: LabelRow): Label {
  return {
    id: r.id,
    taskId: r.task_ref,
    studyId: r.study_ref,
    scope: r.scope,
    instanceId: r.instance_ref,
    laterality: r.laterality,
    className: r.class_name,
    annotator: r.annotator,
    createdAt: r.created_at,
  };
}
