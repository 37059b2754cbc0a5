// The labelled images of a task: each FOR PRESENTATION image with the label that applies to it
// (its own image label, else its breast's, else its exam's), for training on library data.
import type { Db } from '../db/database';

export interface LabelledImage {
  instanceId: number;
  studyId: number;
  file: string;
  laterality: 'L' | 'R' | null;
  label: string;
}

export function labelledImages(db: Db, taskId: number, studyIds?: readonly number[]): LabelledImage[] {
  return db
    .prepare(
      `SELECT * FROM (
         SELECT i.id AS instanceId, se.study_ref AS studyId, i.file_path AS file, i.laterality,
           coalesce(
             (SELECT class_name FROM labels l WHERE l.task_ref = @task AND l.scope = 'image' AND l.instance_ref = i.id ORDER BY l.id DESC LIMIT 1),
             (SELECT class_name FROM labels l WHERE l.task_ref = @task AND l.scope = 'breast' AND l.study_ref = se.study_ref
                AND l.laterality = i.laterality ORDER BY l.id DESC LIMIT 1),
             (SELECT class_name FROM labels l WHERE l.task_ref = @task AND l.scope = 'exam' AND l.study_ref = se.study_ref ORDER BY l.id DESC LIMIT 1)
           ) AS label
         FROM instances i JOIN series se ON se.id = i.series_ref
         WHERE coalesce(i.presentation_intent, '') <> 'FOR PROCESSING'
           ${studyIds ? 'AND se.study_ref IN (SELECT value FROM json_each(@studies))' : ''}
       ) WHERE label IS NOT NULL ORDER BY studyId, instanceId`,
    )
    .all({ task: taskId, ...(studyIds ? { studies: JSON.stringify(studyIds) } : {}) }) as LabelledImage[];
}
