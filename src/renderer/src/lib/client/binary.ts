// Decodes a binary method's answer (see src/common/binary.ts) into validated metadata and the
// pixel bytes. A malformed buffer becomes a CleftError, never a half-read image.
import { binaryMethods, decodeBinary, type BinaryMethodName } from '../../../../common/binary';
import { CleftError } from '../../../../common/errors';
import type { BinaryResult } from './types';

export function unpackBinary<M extends BinaryMethodName>(method: M, buffer: ArrayBuffer | Uint8Array): BinaryResult<M> {
  let decoded: { meta: unknown; data: ArrayBuffer };
  try {
    decoded = decodeBinary(buffer);
  } catch (err) {
    throw new CleftError('internal', `${method}: the back end answered with a malformed buffer (${(err as Error).message})`);
  }
  const meta = binaryMethods[method].meta.safeParse(decoded.meta);
  if (!meta.success) throw new CleftError('internal', `${method}: the back end answered with metadata the UI does not understand`);
  return { meta: meta.data as BinaryResult<M>['meta'], data: decoded.data };
}
