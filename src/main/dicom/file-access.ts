// Opening a file that is meant to hold DICOM: regular files only. A FIFO would block the open (and
// the read) forever, /dev/zero would never end; both are refused by name before any byte is read.
import { constants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import { DicomError } from './errors';

/** "a FIFO (named pipe)", "a folder", ...: what a non-regular file is, for messages. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** A short reason for a failed open or stat, without Node's "ENOENT: no such file..., open '<path>'" echo. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'symbolic link loop';
    case 'EISDIR':
      return 'is a folder';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'ENAMETOOLONG':
      return 'path too long';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    case 'EIO':
      return 'input/output error';
    default:
      return e.code ?? (err instanceof Error ? err.message : String(err));
  }
}

/**
 * Opens `file` for reading without ever blocking on it (O_NONBLOCK: a FIFO opens at once instead
 * of waiting for a writer) and refuses anything but a regular file. Throws DicomError('io').
 */
export async function openRegularFile(file: string): Promise<{ fh: fs.FileHandle; size: number }> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    // A name given as text (a command-line argument) that held non-UTF-8 bytes arrives with U+FFFD
    // in place of them: say so rather than a bare "no such file".
    const garbled = (err as NodeJS.ErrnoException).code === 'ENOENT' && file.includes('\uFFFD');
    throw new DicomError(
      file,
      'io',
      garbled ? 'no such file (its name is not valid UTF-8 and cannot be passed as text; rename it)' : describeFsError(err),
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DicomError(file, 'io', `${fileKind(st)}, not a regular file`);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close();
    if (err instanceof DicomError) throw err;
    throw new DicomError(file, 'io', describeFsError(err));
  }
}

/** The whole of a regular file (see openRegularFile). */
export async function readRegularFile(file: string): Promise<Buffer> {
  const { fh } = await openRegularFile(file);
  try {
    return await fh.readFile();
  } catch (err) {
    throw new DicomError(file, 'io', describeFsError(err));
  } finally {
    await fh.close();
  }
}
