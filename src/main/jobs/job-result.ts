// A job's result is checked against its kind's schema (src/common/jobs.ts) before the job is marked
// done: the record's result is then what the contract says it is, for the UI and the CLI alike.
import type { z } from 'zod';
import { jobKinds, type JobKind, type JobResult } from '../../common/jobs';

/**
 * The result as the job record will hold it (JSON: what SQLite stores and the contract returns),
 * checked against the kind's schema; throws naming the kind and the path of the first mismatch.
 */
export function checkedResult<K extends JobKind>(kind: K, result: unknown): JobResult<K> {
  const json: unknown = JSON.parse(JSON.stringify(result ?? null));
  const parsed = jobKinds[kind].result.safeParse(json);
  if (parsed.success) return parsed.data as JobResult<K>;
  throw new Error(`the ${kind} job ended with a result outside its schema (${schemaIssues(parsed.error.issues, '(result)')})`);
}

/** The first three mismatches as `path: message`, `; `-separated (`whole` names the value itself). */
export function schemaIssues(issues: readonly z.core.$ZodIssue[], whole: string): string {
  const lines = issues.map((i) => `${issuePath(i.path, whole)}: ${i.message}`);
  return `${lines.slice(0, 3).join('; ')}${lines.length > 3 ? '; …' : ''}`;
}

/** `skipped[0].reason`, or `whole` for the value itself. */
function issuePath(path: readonly PropertyKey[], whole: string): string {
  if (path.length === 0) return whole;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}
