// The app's one UID root. Every UID CLEFT Studio generates (phantom studies, series and images,
// Structured Reports, the implementation class) lives under 2.25, the root ISO/IEC 9834-8 and
// DICOM PS3.5 B.2 give to UUID-derived UIDs: a decimal 128-bit number after "2.25." is unique
// without registering an organisation root, and stays well under the 64-character UI limit.
import { createHash, randomBytes } from 'node:crypto';

export const UID_ROOT = '2.25';

/** The Implementation Class UID in the file meta group of every file the app writes. */
export const IMPLEMENTATION_CLASS_UID = `${UID_ROOT}.293424861830373935372935264593245631733`;

function fromBytes(b: Uint8Array): string {
  return `${UID_ROOT}.${BigInt('0x' + Buffer.from(b.subarray(0, 16)).toString('hex')).toString()}`;
}

/** A UID fixed by its parts (same parts, same UID): deterministic outputs such as phantoms. */
export function hashUid(...parts: (string | number)[]): string {
  return fromBytes(createHash('sha256').update(parts.join('|')).digest());
}

/** A fresh UID from a random version-4 UUID: new instances such as each exported report. */
export function randomUid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  return fromBytes(b);
}
