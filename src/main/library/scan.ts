// Finds the files an import should look at: every regular file under the given folders (DICOM
// files often have no extension), plus the files a DICOMDIR references. Symlinked folders are
// followed once (a loop cannot trap the scan).
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readDicomdir } from '../dicom/dicomdir';

export interface ScannedFile {
  file: string;
  size: number;
  mtimeMs: number;
}

export interface ScanResult {
  files: ScannedFile[];
  /** DICOMDIR files found (they are directories of the media, not images). */
  dicomdirs: string[];
  /** Paths that could not be read, with the reason. */
  problems: { file: string; reason: string }[];
}

export async function scanPaths(paths: string[], signal?: AbortSignal): Promise<ScanResult> {
  const seenDirs = new Set<string>();
  const byPath = new Map<string, ScannedFile>();
  const dicomdirs: string[] = [];
  const problems: ScanResult['problems'] = [];

  const addFile = async (file: string): Promise<void> => {
    if (byPath.has(file)) return;
    try {
      const st = await fs.stat(file);
      if (st.isFile()) byPath.set(file, { file, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
    } catch (err) {
      problems.push({ file, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
  };

  const walk = async (dir: string): Promise<void> => {
    if (signal?.aborted) return;
    let real: string;
    try {
      real = await fs.realpath(dir);
    } catch (err) {
      problems.push({ file: dir, reason: `cannot open folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return;
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      problems.push({ file: dir, reason: `cannot list folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isSymbolicLink()) {
        const st = await fs.stat(abs).catch(() => null);
        if (st?.isDirectory()) await walk(abs);
        else if (st?.isFile()) await addFile(abs);
      } else if (e.isFile()) {
        if (e.name.toUpperCase() === 'DICOMDIR') dicomdirs.push(abs);
        else await addFile(abs);
      }
    }
  };

  for (const p of paths) {
    const abs = path.resolve(p);
    const st = await fs.stat(abs).catch((err: NodeJS.ErrnoException) => {
      problems.push({ file: abs, reason: `not found: ${err.code ?? err.message}` });
      return null;
    });
    if (!st) continue;
    if (st.isDirectory()) await walk(abs);
    else if (path.basename(abs).toUpperCase() === 'DICOMDIR') dicomdirs.push(abs);
    else await addFile(abs);
  }

  // A DICOMDIR may reference files outside the folders walked (a DICOMDIR given alone).
  for (const dd of dicomdirs) {
    try {
      for (const rec of await readDicomdir(dd)) if (rec.file) await addFile(rec.file);
    } catch (err) {
      problems.push({ file: dd, reason: (err as Error).message });
    }
  }
  const files = [...byPath.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { files, dicomdirs, problems };
}
