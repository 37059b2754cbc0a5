// A job's params are checked against its kind's schema (src/common/jobs.ts) when the job is queued
// and again when the worker reads the stored row: a row another version (or a hand) wrote in
// another shape fails its job with the job's id and the field, and nothing else breaks.
import { CleftError } from '../../common/errors';
import { jobKinds, type JobKind, type JobParams } from '../../common/jobs';
import { schemaIssues } from './job-result';

/**
 * `params` as the kind's schema reads them (defaults filled in); throws naming the kind, the job
 * (`jobId`, when the params come from a stored row) and the path of the first mismatches. Params
 * given to a new job are the caller's input (`invalid_input`); a stored row fails its job.
 */
export function checkedParams<K extends JobKind>(kind: K, params: unknown, jobId?: number): JobParams<K> {
  const parsed = jobKinds[kind].params.safeParse(params);
  if (parsed.success) return parsed.data as JobParams<K>;
  const issues = schemaIssues(parsed.error.issues, '(params)');
  if (jobId === undefined) throw new CleftError('invalid_input', `the parameters of a ${kind} job do not fit its schema (${issues})`);
  throw new Error(`job ${jobId} (${kind}): its stored parameters do not fit the kind's schema (${issues})`);
}
