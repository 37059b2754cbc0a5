// Finds the files an import should look at: every regular file under the given folders (DICOM
// files often have no extension), plus the files a DICOMDIR references. Symlinked folders are
// followed once (a loop cannot trap the scan). Everything else met on the way is listed with the
// reason it was left out, never opened: FIFOs and devices (reading them blocks or never ends),
// sockets, dangling links, link loops, names that are not valid UTF-8, missing DICOMDIR references.
import type { Dirent, Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readDicomdir } from '../dicom/dicomdir';
import { asDicomError } from '../dicom/errors';
import { describeFsError, fileKind } from '../dicom/file-access';

export interface ScannedFile {
  file: string;
  size: number;
  mtimeMs: number;
}

export interface ScanProblem {
  file: string;
  /** Skipped: not an import candidate (a FIFO, a dangling link); refused: should have been readable. */
  kind: 'skipped' | 'refused';
  reason: string;
}

export interface ScannedDicomdir {
  file: string;
  /** Distinct files its records reference. */
  referenced: number;
  /** Referenced files that are not there (each also listed as a problem). */
  missing: number;
}

export interface ScanResult {
  files: ScannedFile[];
  /** DICOMDIR files found (they are directories of the media, not images). */
  dicomdirs: ScannedDicomdir[];
  /** Paths left out, with the reason. */
  problems: ScanProblem[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The name as text when it is valid UTF-8, else undefined. */
function utf8Name(name: Buffer): string | undefined {
  try {
    return utf8.decode(name);
  } catch {
    return undefined;
  }
}

/** A readable rendering of a name that is not valid UTF-8: valid characters as they are, other bytes as \xNN. */
export function escapeName(name: Buffer): string {
  let out = '';
  for (let i = 0; i < name.length;) {
    const b = name[i]!;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    const seq = n > 0 ? name.subarray(i, i + n) : undefined;
    const text = seq && seq.length === n ? utf8Name(seq) : undefined;
    if (text !== undefined) {
      out += text;
      i += n;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0').toUpperCase()}`;
      i++;
    }
  }
  return out;
}

function otherKind(st: Stats): string {
  return `${fileKind(st)}: not read`;
}

export async function scanPaths(paths: string[], signal?: AbortSignal): Promise<ScanResult> {
  const seenDirs = new Map<string, string>();
  const byPath = new Map<string, ScannedFile>();
  const dicomdirs: string[] = [];
  const problems: ScanProblem[] = [];
  const skip = (file: string, reason: string): void => void problems.push({ file, kind: 'skipped', reason });
  const refuse = (file: string, reason: string): void => void problems.push({ file, kind: 'refused', reason });

  const addFile = async (file: string): Promise<void> => {
    if (byPath.has(file)) return;
    try {
      const st = await fs.stat(file);
      if (st.isFile()) byPath.set(file, { file, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
      else skip(file, otherKind(st));
    } catch (err) {
      refuse(file, `cannot read: ${describeFsError(err)}`);
    }
  };

  const walk = async (dir: string): Promise<void> => {
    if (signal?.aborted) return;
    let real: string;
    try {
      real = await fs.realpath(dir);
    } catch (err) {
      refuse(dir, `cannot open folder: ${describeFsError(err)}`);
      return;
    }
    const seenAs = seenDirs.get(real);
    if (seenAs !== undefined) {
      if (seenAs !== dir) skip(dir, `link to a folder scanned already (${seenAs})`);
      return;
    }
    seenDirs.set(real, dir);
    let entries: Dirent<Buffer>[];
    try {
      // Names as bytes: a name that is not valid UTF-8 would otherwise come back garbled (and unopenable).
      entries = await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      refuse(dir, `cannot list folder: ${describeFsError(err)}`);
      return;
    }
    const named = entries.map((e) => ({ e, name: utf8Name(e.name) }));
    named.sort((a, b) => Buffer.compare(a.e.name, b.e.name));
    for (const { e, name } of named) {
      if (name === undefined) {
        const shown = path.join(dir, escapeName(e.name));
        const what = e.isDirectory() ? 'folder' : 'file';
        refuse(shown, `the ${what} name is not valid UTF-8 (shown with \\x escapes); rename it to import it`);
        continue;
      }
      const abs = path.join(dir, name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isSymbolicLink()) {
        let st: Stats;
        try {
          st = await fs.stat(abs);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') skip(abs, 'dangling symbolic link (its target is missing)');
          else if (code === 'ELOOP') skip(abs, 'symbolic link loop');
          else refuse(abs, `cannot follow symbolic link: ${describeFsError(err)}`);
          continue;
        }
        if (st.isDirectory()) await walk(abs);
        else if (st.isFile()) await addFile(abs);
        else skip(abs, `symbolic link to ${otherKind(st)}`);
      } else if (e.isFile()) {
        if (name.toUpperCase() === 'DICOMDIR') dicomdirs.push(abs);
        else await addFile(abs);
      } else {
        // FIFO, socket, device: never opened (a FIFO blocks the reader until someone writes).
        const st = await fs.lstat(abs).catch(() => null);
        skip(abs, st ? otherKind(st) : 'not a regular file: not read');
      }
    }
  };

  for (const p of paths) {
    const abs = path.resolve(p);
    const st = await fs.stat(abs).catch((err: NodeJS.ErrnoException) => {
      refuse(abs, `not found: ${describeFsError(err)}`);
      return null;
    });
    if (!st) continue;
    if (st.isDirectory()) await walk(abs);
    else if (!st.isFile()) skip(abs, otherKind(st));
    else if (path.basename(abs).toUpperCase() === 'DICOMDIR') dicomdirs.push(abs);
    else await addFile(abs);
  }

  // A DICOMDIR may reference files outside the folders walked (a DICOMDIR given alone).
  const scannedDirs: ScannedDicomdir[] = [];
  for (const dd of dicomdirs) {
    try {
      const referenced = [...new Set((await readDicomdir(dd)).map((r) => r.file).filter((f): f is string => f !== null))];
      let missing = 0;
      for (const file of referenced) {
        const st = await fs.stat(file).catch(() => null);
        if (!st) {
          missing++;
          refuse(file, `missing: referenced by ${dd}`);
        } else await addFile(file);
      }
      scannedDirs.push({ file: dd, referenced: referenced.length, missing });
    } catch (err) {
      refuse(dd, asDicomError(dd, err).summary);
    }
  }
  const files = [...byPath.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { files, dicomdirs: scannedDirs, problems };
}
