// The entry for binary methods (decoded frames): validate, run, and answer with the encoded
// buffer or a typed error, exactly like dispatch() for JSON methods.
import { binaryMethods, isBinaryMethodName } from '../../common/binary';
import { CleftError, zodIssues, type ErrorPayload } from '../../common/errors';
import type { Backend } from './backend';

export type BinaryResult = { ok: true; bytes: Uint8Array } | { ok: false; error: ErrorPayload };

export async function dispatchBinary(backend: Backend, method: unknown, rawInput: unknown): Promise<BinaryResult> {
  try {
    if (!isBinaryMethodName(method)) throw new CleftError('unknown_method', `unknown binary method ${JSON.stringify(method)}`);
    const parsed = binaryMethods[method].input.safeParse(rawInput ?? {});
    if (!parsed.success) throw new CleftError('invalid_input', `invalid input for ${method}`, zodIssues(parsed.error));
    return { ok: true, bytes: await backend.frames.frame(parsed.data) };
  } catch (err) {
    if (err instanceof CleftError) return { ok: false, error: err.toPayload() };
    return { ok: false, error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } };
  }
}
