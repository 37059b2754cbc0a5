// What `cleft slurm classify` submitted, recorded as JSON in the output folder
// (<dir>/cleft-slurm.json): the classify arguments, the Slurm options, the sbatch script, and every
// submission (job id, the shards it runs). `cleft slurm status` and `cleft slurm resubmit` read it;
// Slurm keeps the queue, this file only remembers which job ran which shard.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../native/io/atomic-write';
import { WeightPrecision } from '../../common/precision';

export const SUBMISSION_FILE = 'cleft-slurm.json';
export const SCRIPT_FILE = 'cleft-classify.sbatch';

/** Shard K of N is array task K, K = 1..N (the `--shard K/N` of `cleft classify`). */
export const FIRST_SHARD = 1;

export const ClassifyArgs = z.object({
  bundle: z.string(),
  task: z.string(),
  /** One of the two lists: DICOM paths, or StudyInstanceUIDs of the library at dataDir. */
  dicomList: z.string().nullable(),
  studyList: z.string().nullable(),
  promptSet: z.string().nullable(),
  adaptor: z.string().nullable(),
  device: z.string().nullable(),
  dataDir: z.string().nullable(),
  cacheDir: z.string().nullable(),
  /** `--weights` of every shard; absent (records written before it existed) or null: not passed, float32. */
  weights: WeightPrecision.nullable().optional(),
});
export type ClassifyArgs = z.infer<typeof ClassifyArgs>;

export const SlurmOptions = z.object({
  partition: z.string().nullable(),
  time: z.string().nullable(),
  gpusPerTask: z.number().int().positive().nullable(),
  cpusPerTask: z.number().int().positive(),
});
export type SlurmOptions = z.infer<typeof SlurmOptions>;

export const Submission = z.object({
  jobId: z.string(),
  shards: z.array(z.number().int()),
  submittedAt: z.string(),
});
export type Submission = z.infer<typeof Submission>;

export const SubmissionRecord = z.object({
  version: z.literal(1),
  dir: z.string(),
  shards: z.number().int().positive(),
  script: z.string(),
  /** The command each array task runs, with $K for the shard (as written in the script). */
  command: z.array(z.string()),
  classify: ClassifyArgs,
  slurm: SlurmOptions,
  /** The library merged into, when known at submission (--data-dir or $CLEFT_DATA_DIR), for the merge command status prints. */
  library: z.string().nullable(),
  submissions: z.array(Submission).min(1),
});
export type SubmissionRecord = z.infer<typeof SubmissionRecord>;

export const resultsFile = (dir: string, shard: number | string): string => path.join(dir, `results-${shard}.safetensors`);
export const logFile = (dir: string, shard: number, jobId: string): string => path.join(dir, 'logs', `shard-${shard}-job-${jobId}.out`);
export const allShards = (n: number): number[] => Array.from({ length: n }, (_, i) => i + FIRST_SHARD);

export function readSubmission(dir: string): SubmissionRecord {
  const file = path.join(dir, SUBMISSION_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file} not found: ${dir} is not an output folder of \`cleft slurm classify\``);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const r = SubmissionRecord.safeParse(json);
  if (!r.success) throw new Error(`${file} is not a cleft slurm submission record: ${r.error.issues[0]?.message ?? 'unknown field'}`);
  return r.data;
}

export function writeSubmission(record: SubmissionRecord): void {
  writeFileAtomic(path.join(record.dir, SUBMISSION_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** The submission that ran (or runs) this shard last. */
export function lastSubmissionOf(record: SubmissionRecord, shard: number): Submission | null {
  for (let i = record.submissions.length - 1; i >= 0; i--) if (record.submissions[i]!.shards.includes(shard)) return record.submissions[i]!;
  return null;
}
