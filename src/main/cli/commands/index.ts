// One line per command family. A new family: add a file beside this one exporting
// `register(program)` and list it here.
import type { Command } from 'commander';
import * as dicom from './dicom';
import * as doctor from './doctor';
import * as embed from './embed';
import * as importCmd from './import';
import * as jobs from './jobs';
import * as models from './models';
import * as serve from './serve';
import * as train from './train';
import * as demo from './demo';
import * as classify from './classify';
import * as evaluateCmd from './evaluate';
import * as reports from './reports';
import * as runs from './runs';
import * as labels from './labels';
import * as splits from './splits';
import * as pacs from './pacs';
import * as sr from './sr';
import * as slurm from './slurm';

export function registerCommands(program: Command): void {
  serve.register(program);
  importCmd.register(program);
  jobs.register(program);
  doctor.register(program);
  dicom.register(program);
  models.register(program);
  embed.register(program);
  train.register(program);
  demo.register(program);
  classify.register(program);
  evaluateCmd.register(program);
  reports.register(program);
  runs.register(program);
  labels.register(program);
  splits.register(program);
  pacs.register(program);
  sr.register(program);
  slurm.register(program);
}
