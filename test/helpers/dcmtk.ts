// Builds small DICOM files with dcmtk's dump2dcm (a tool that is not ours), so import tests run
// on files written by an independent implementation.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface DumpInstance {
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  patientId: string;
  patientName?: string;
  /** ImageLaterality (default R); null leaves it out. */
  laterality?: 'L' | 'R' | null;
  /** ViewPosition (default CC); null leaves it out. */
  view?: 'CC' | 'MLO' | null;
  studyDate?: string;
  accession?: string;
  intent?: 'FOR PRESENTATION' | 'FOR PROCESSING';
  rows?: number;
  columns?: number;
  /** Stored value at (x, y), 0..4095 (default: a ramp). */
  pixel?: (x: number, y: number) => number;
  /** More dump2dcm lines, e.g. a View Code Sequence. */
  extra?: string[];
}

export function requireDump2dcm(): void {
  try {
    execFileSync('dump2dcm', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('dump2dcm (Debian package dcmtk) is required for these tests: apt-get install dcmtk');
  }
}

/** Writes one MG instance (explicit VR little endian, 12-bit MONOCHROME2) to `file`. */
export function writeMgInstance(file: string, inst: DumpInstance): void {
  const rows = inst.rows ?? 8;
  const columns = inst.columns ?? 8;
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const raw = `${file}.raw`;
  const px = Buffer.alloc(rows * columns * 2);
  for (let i = 0; i < rows * columns; i++)
    px.writeUInt16LE(inst.pixel ? inst.pixel(i % columns, Math.floor(i / columns)) : (i * 37) % 4096, i * 2);
  fs.writeFileSync(raw, px);
  const sopClass = inst.intent === 'FOR PROCESSING' ? '1.2.840.10008.5.1.4.1.1.1.2.1' : '1.2.840.10008.5.1.4.1.1.1.2';
  const lines = [
    `(0002,0001) OB 00\\01`,
    `(0002,0002) UI ${sopClass}`,
    `(0002,0003) UI ${inst.sopInstanceUid}`,
    `(0002,0010) UI =LittleEndianExplicit`,
    `(0008,0016) UI ${sopClass}`,
    `(0008,0018) UI ${inst.sopInstanceUid}`,
    `(0008,0020) DA ${inst.studyDate ?? '20240105'}`,
    `(0008,0050) SH ${inst.accession ?? 'ACC'}`,
    `(0008,0060) CS MG`,
    `(0008,0068) CS ${inst.intent ?? 'FOR PRESENTATION'}`,
    `(0010,0010) PN ${inst.patientName ?? 'Doe^Jane'}`,
    `(0010,0020) LO ${inst.patientId}`,
    ...(inst.view === null ? [] : [`(0018,5101) CS ${inst.view ?? 'CC'}`]),
    `(0020,000d) UI ${inst.studyUid}`,
    `(0020,000e) UI ${inst.seriesUid}`,
    ...(inst.laterality === null ? [] : [`(0020,0062) CS ${inst.laterality ?? 'R'}`]),
    `(0028,0002) US 1`,
    `(0028,0004) CS MONOCHROME2`,
    `(0028,0010) US ${rows}`,
    `(0028,0011) US ${columns}`,
    `(0028,0100) US 16`,
    `(0028,0101) US 12`,
    `(0028,0102) US 11`,
    `(0028,0103) US 0`,
    ...(inst.extra ?? []),
    `(7fe0,0010) OW =${path.basename(raw)}`,
  ];
  const dump = `${file}.dump`;
  fs.writeFileSync(dump, lines.join('\n') + '\n');
  execFileSync('dump2dcm', ['--write-xfer-little', path.basename(dump), path.basename(file)], { cwd: dir });
  fs.rmSync(dump);
  fs.rmSync(raw);
}

/** A 4-view exam (RCC, LCC, RMLO, LMLO) in `dir`; returns the file paths. */
export function writeFourViewExam(dir: string, n: number, patientId = `P${n}`): string[] {
  const studyUid = `1.2.826.0.1.3680043.9.7777.${n}`;
  const views: ['L' | 'R', 'CC' | 'MLO'][] = [
    ['R', 'CC'],
    ['L', 'CC'],
    ['R', 'MLO'],
    ['L', 'MLO'],
  ];
  return views.map(([lat, view], i) => {
    const file = path.join(dir, `exam${n}`, `IM${i + 1}`);
    writeMgInstance(file, {
      sopInstanceUid: `${studyUid}.1.${i + 1}`,
      studyUid,
      seriesUid: `${studyUid}.1`,
      patientId,
      laterality: lat,
      view,
      accession: `A${n}`,
      studyDate: `202401${String(10 + n).padStart(2, '0')}`,
    });
    return file;
  });
}
