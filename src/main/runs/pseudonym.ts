// Keyed pseudonyms for shared exports: PatientID and AccessionNumber become HMAC-SHA256(key, value)
// in hex, cut to 16 characters (64 bits). The key is made once per library and kept in a file
// only its owner can read, so the site that holds it can join a shared file back to its archive
// (by computing the same pseudonyms) and nobody else can reverse them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const PSEUDONYM_KEY_FILE = 'pseudonym.key';
/** Hex characters kept of the HMAC (64 bits: no collision expected below billions of IDs). */
export const PSEUDONYM_LENGTH = 16;

/** The library's pseudonym key, created (mode 0600) on first use. */
export function pseudonymKey(dataDir: string): Buffer {
  const file = path.join(dataDir, PSEUDONYM_KEY_FILE);
  try {
    // 'wx': never overwrite a key an earlier export used (that would break every join)
    fs.writeFileSync(file, crypto.randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const hex = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file}: not a pseudonym key (64 hex digits); restore it from a backup`);
  return Buffer.from(hex, 'hex');
}

/** The pseudonym of one identifier; empty stays empty (a missing ID is not an identifier). */
export function pseudonym(key: Buffer, value: string): string {
  if (value === '') return '';
  return crypto.createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, PSEUDONYM_LENGTH);
}
