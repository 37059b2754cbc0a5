// `runs.exportCsv` / `cleft runs export`: a run's predictions as a CSV a paper can use (csv.ts),
// optionally with pseudonymized PatientID and AccessionNumber (pseudonym.ts).
import type { Prediction } from '../../common/runs';
import type { Db } from '../db/database';
import { ModelsRepo } from '../db/models-repo';
import { TasksRepo } from '../db/tasks-repo';
import { predictionsCsv } from './csv';
import { lineageSources, studiesOfLineage } from './evaluation-set';
import { pseudonymKey } from './pseudonym';

export function exportRunCsv(
  db: Db,
  dataDir: string,
  input: { runId: number; scope?: Prediction['scope'] | undefined; pseudonymize?: boolean | undefined },
): { fileName: string; csv: string; rows: number } {
  const src = lineageSources(db);
  const runs = src.runs;
  const run = runs.getRun(input.runId);
  const classes = run.taskId === null ? [] : new TasksRepo(db).get(run.taskId).classes.map((c) => c.name);
  const rows = runs.allPredictions(run.id, input.scope);
  const { partOf } = studiesOfLineage(src, run);
  const model = run.modelId === null ? undefined : new ModelsRepo(db).get(run.modelId);
  const csv = predictionsCsv(rows, {
    scope: input.scope,
    classes,
    partOf,
    bundle: { name: model?.name ?? null, sha256: run.record.modelSha256 },
    promptSet: { name: run.promptSet, sha256: run.record.promptSetSha256 },
    runId: run.id,
    appVersion: run.record.appVersion,
    pseudonymKey: input.pseudonymize ? pseudonymKey(dataDir) : undefined,
  });
  const suffix = `${input.scope ? `-${input.scope}` : ''}${input.pseudonymize ? '-pseudonymized' : ''}`;
  return { fileName: `cleft-run-${run.id}${suffix}.csv`, csv, rows: rows.length };
}
