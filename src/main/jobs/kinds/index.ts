// Every job kind the worker can run. A new kind: add its params and result schemas to `jobKinds`
// in src/common/jobs.ts and its runner here (the map below does not compile without it).
import type { JobKind, JobParams, JobResult } from '../../../common/jobs';
import type { JobRunner } from '../job-context';
import { hashFolder } from './hash-folder';
import { importDicom } from './import-dicom';
import { classify } from './classify';
import { promptLearn } from './prompt-learn';
import { trainAdaptorJob } from './train-adaptor';
import { trainLora } from './train-lora';
import { demo } from './demo';
import { explain } from './explain';
import { pacsRetrieve } from './pacs-retrieve';

type RunnerFor<K extends JobKind> = JobRunner<JobParams<K>, JobResult<K>>;

/** A runner for every kind, each returning its kind's result (this does not compile when one is missing). */
export type JobRunners = { [K in JobKind]: RunnerFor<K> };

export const jobRunners: JobRunners = {
  'hash-folder': hashFolder,
  import: importDicom,
  classify,
  'prompt-learn': promptLearn,
  'train-adaptor': trainAdaptorJob,
  'train-lora': trainLora,
  demo,
  explain,
  'pacs-retrieve': pacsRetrieve,
};
