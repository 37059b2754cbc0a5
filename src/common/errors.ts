// Typed errors that cross the UI/back-end boundary. Every failure the back end reports is one of
// these codes with a human message; the renderer shows the message and may branch on the code.
import { z } from 'zod';

export const ErrorCode = z.enum([
  'invalid_input', // the payload failed validation
  'unknown_method',
  'not_found',
  'conflict', // e.g. resuming a job that is not interrupted
  'unsupported', // e.g. a native dialog requested over the web host
  'unauthorized',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorPayload = z.object({
  code: ErrorCode,
  message: z.string(),
  /** Field-level problems for invalid_input: path and message per issue. */
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ErrorPayload = z.infer<typeof ErrorPayload>;

export class CleftError extends Error {
  readonly code: ErrorCode;
  readonly issues: ErrorPayload['issues'];

  constructor(code: ErrorCode, message: string, issues?: ErrorPayload['issues']) {
    super(message);
    this.name = 'CleftError';
    this.code = code;
    this.issues = issues;
  }

  toPayload(): ErrorPayload {
    return this.issues ? { code: this.code, message: this.message, issues: this.issues } : { code: this.code, message: this.message };
  }

  static fromPayload(p: ErrorPayload): CleftError {
    return new CleftError(p.code, p.message, p.issues);
  }
}

/** What every transport carries back: a value or a typed error, never a thrown stack. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

export function zodIssues(error: z.ZodError): NonNullable<ErrorPayload['issues']> {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}
