// Runs dciodvfy (Debian package dicom3tools: David Clunie's IOD validator, not ours) on a file and
// splits its report into errors and warnings. Debian 12's build (1.00~20220618) cannot inflate
// Deflated Explicit VR Little Endian and predates the HTJ2K transfer syntaxes (2023), so
// `validatableCopy` hands it the same dataset inflated, or relabelled as JPEG 2000 Lossless (the
// encapsulation is the same; dciodvfy does not decode pixels): only (0002,0010) differs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export function requireDciodvfy(): void {
  if (spawnSync('sh', ['-c', 'command -v dciodvfy']).status !== 0)
    throw new Error('dciodvfy (Debian package dicom3tools) is required for these tests: apt-get install dicom3tools');
}

export interface DciodvfyReport {
  /** The IOD dciodvfy recognised (its first line naming one), e.g. MammographyImageForPresentation. */
  iod: string | null;
  errors: string[];
  warnings: string[];
  output: string;
}

export function dciodvfy(file: string): DciodvfyReport {
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  const output = `${r.stdout}${r.stderr}`;
  const lines = output.split('\n').filter((l) => l.trim());
  // Element-level messages start with the tag, e.g. "(0x0028,0x1054) LO Rescale Type  - Warning - ...".
  const kind = (l: string): string => l.replace(/^\(0x[0-9a-f]{4},0x[0-9a-f]{4}\)[^-]*-\s*/i, '');
  return {
    iod: lines.find((l) => /^[A-Z]\w+$/.test(l)) ?? null,
    errors: lines.filter((l) => kind(l).startsWith('Error')),
    warnings: lines.filter((l) => kind(l).startsWith('Warning')),
    output,
  };
}

const DEFLATED = '1.2.840.10008.1.2.1.99';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const HTJ2K = /^1\.2\.840\.10008\.1\.2\.4\.20[123]$/;
const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';

/** `file` itself when dciodvfy reads its transfer syntax, else a copy in `dir` it can read (see above). */
export function validatableCopy(file: string, dir: string): string {
  const bytes = fs.readFileSync(file);
  const metaLength = bytes.readUInt32LE(140); // (0002,0000) UL right after the 132-byte preamble
  const metaEnd = 144 + metaLength;
  // Walk the meta group (explicit VR LE) to find the transfer syntax.
  let pos = 144;
  let ts = '';
  const elements: { tag: number; vr: string; value: Buffer }[] = [];
  while (pos < metaEnd) {
    const tag = (bytes.readUInt16LE(pos) << 16) | bytes.readUInt16LE(pos + 2);
    const vr = bytes.toString('latin1', pos + 4, pos + 6);
    const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
    const len = long ? bytes.readUInt32LE(pos + 8) : bytes.readUInt16LE(pos + 6);
    const start = pos + (long ? 12 : 8);
    const value = bytes.subarray(start, start + len);
    if (tag === 0x00020010) ts = value.toString('latin1').replace(/[\0 ]+$/, '');
    elements.push({ tag, vr, value });
    pos = start + len;
  }
  const target = ts === DEFLATED ? EXPLICIT_LE : HTJ2K.test(ts) ? J2K_LOSSLESS : null;
  if (!target) return file;
  const body = ts === DEFLATED ? zlib.inflateRawSync(bytes.subarray(metaEnd)) : bytes.subarray(metaEnd);
  const encoded = elements.map(({ tag, vr, value }) => {
    let v = tag === 0x00020010 ? Buffer.from(target, 'latin1') : value;
    if (v.length % 2) v = Buffer.concat([v, Buffer.from([0])]);
    const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
    const h = Buffer.alloc(long ? 12 : 8);
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.write(vr, 4, 'latin1');
    if (long) h.writeUInt32LE(v.length, 8);
    else h.writeUInt16LE(v.length, 6);
    return Buffer.concat([h, v]);
  });
  const meta = Buffer.concat(encoded);
  const groupLength = Buffer.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00, 0, 0, 0, 0]);
  groupLength.writeUInt32LE(meta.length, 8);
  const out = path.join(dir, `${path.basename(path.dirname(file))}-${path.basename(file)}`);
  fs.writeFileSync(out, Buffer.concat([bytes.subarray(0, 132), groupLength, meta, body]));
  return out;
}
