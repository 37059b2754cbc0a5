// The app's DICOM UIDs. Root 2.25 (PS3.5 B.2, ISO/IEC 9834-8): "2.25." followed by a 128-bit number
// in decimal, which needs no registered organisation root and is unique without a registry. Every
// UID the app writes comes from here; docs/dicom.md ("UIDs we write") is the one place that says so.
import { createHash, randomUUID } from 'node:crypto';

export const UID_ROOT = '2.25';

/** Our Part 10 files' ImplementationClassUID (0002,0012), fixed for this implementation. */
export const IMPLEMENTATION_CLASS_UID = '2.25.293424861830373935372935264593245631733';

/** A deterministic UID: the first 128 bits of SHA-256 over the parts (phantoms: same seed, same UIDs). */
export function uidFromParts(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('|')).digest();
  return `${UID_ROOT}.${BigInt('0x' + h.subarray(0, 16).toString('hex')).toString()}`;
}

/** A new random UID: the integer value of a version 4 UUID, as PS3.5 B.2 describes. */
export function newUid(): string {
  return `${UID_ROOT}.${BigInt('0x' + randomUUID().replace(/-/g, '')).toString()}`;
}
