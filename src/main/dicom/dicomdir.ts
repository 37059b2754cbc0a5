// DICOMDIR (PS3.10 media directory): the list of files a CD/USB export references. The scanner
// uses it to find instances whose file names carry no extension (the norm: IMAGES/IM000001).
import path from 'node:path';
import { DicomError, asDicomError } from './errors';
import { readRegularFile } from './file-access';
import { parseDataset } from './parse';

export interface DicomdirRecord {
  /** PATIENT, STUDY, SERIES, IMAGE, ... */
  recordType: string;
  /** Absolute path of the referenced file (ReferencedFileID resolved against the DICOMDIR folder). */
  file: string | null;
  referencedSopClassUID: string | null;
  referencedSopInstanceUID: string | null;
  referencedTransferSyntaxUID: string | null;
}

export async function readDicomdir(file: string): Promise<DicomdirRecord[]> {
  return parseDicomdir(await readRegularFile(file), file);
}

export function parseDicomdir(bytes: Uint8Array, file: string): DicomdirRecord[] {
  const ds = parseDataset(bytes, file);
  const seq = ds.elements.x00041220;
  if (!seq) throw new DicomError(file, 'corrupt', 'not a DICOMDIR (no Directory Record Sequence)');
  const base = path.dirname(path.resolve(file));
  const out: DicomdirRecord[] = [];
  try {
    for (const item of seq.items ?? []) {
      const r = item.dataSet;
      if (!r) continue;
      const get = (tag: string): string | null => r.string(tag)?.trim() || null;
      const id = r.string('x00041500');
      // Components are separated by backslashes, whatever the OS that wrote the media.
      const parts = id
        ? id
            .split('\\')
            .map((p) => p.trim())
            .filter(Boolean)
        : [];
      // Never let a crafted DICOMDIR point outside its own folder tree.
      const resolved = parts.length ? path.resolve(base, ...parts) : null;
      const safe = resolved && (resolved === base || resolved.startsWith(base + path.sep)) ? resolved : null;
      out.push({
        recordType: get('x00041430') ?? '',
        file: safe,
        referencedSopClassUID: get('x00041510'),
        referencedSopInstanceUID: get('x00041511'),
        referencedTransferSyntaxUID: get('x00041512'),
      });
    }
  } catch (err) {
    throw asDicomError(file, err);
  }
  return out;
}

/** The distinct files a DICOMDIR references (image-level and any other record with a file). */
export async function dicomdirFiles(file: string): Promise<string[]> {
  const recs = await readDicomdir(file);
  return [...new Set(recs.map((r) => r.file).filter((f): f is string => f !== null))];
}
