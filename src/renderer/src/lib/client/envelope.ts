// Turns whatever a transport returned into a value or a thrown CleftError. Transports are trusted
// to be ours, but a proxy, a crashed host or a version mismatch can still hand back something
// else; the UI must then show a clear error instead of failing somewhere far away.
import { CleftError, ErrorPayload } from '../../../../common/errors';

export function unwrapEnvelope<T>(raw: unknown, context: string): T {
  if (typeof raw !== 'object' || raw === null || !('ok' in raw)) {
    throw new CleftError('internal', `${context}: the back end answered with something that is not a CLEFT envelope`);
  }
  const envelope = raw as { ok: unknown; value?: unknown; error?: unknown };
  if (envelope.ok === true) return envelope.value as T;
  const parsed = ErrorPayload.safeParse(envelope.error);
  if (parsed.success) throw CleftError.fromPayload(parsed.data);
  throw new CleftError('internal', `${context}: the back end reported an error it did not describe`);
}

/** Any rejection as a CleftError, so callers handle one error type. */
export function asCleftError(err: unknown, fallbackMessage: string): CleftError {
  if (err instanceof CleftError) return err;
  const detail = err instanceof Error && err.message ? ` (${err.message})` : '';
  return new CleftError('internal', `${fallbackMessage}${detail}`);
}
