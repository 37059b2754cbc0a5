// Truncated, corrupted and fuzzed files never crash: every failure is a DicomError naming the file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAllFrames, openDicomBytes } from '../../../src/main/dicom/decode';
import { DicomError } from '../../../src/main/dicom/errors';
import { readDicomHeader, readHeaderFromBytes } from '../../../src/main/dicom/header';
import { mulberry32 } from '../../../src/main/dicom/phantom/synth';
import { buildCorpus } from './corpus';

const corpus = buildCorpus();

/** Decodes fully; returns 'ok' or the DicomError. Anything else thrown fails the test. */
async function attempt(bytes: Uint8Array, name: string): Promise<'ok' | DicomError> {
  try {
    readHeaderFromBytes(bytes, name);
    await decodeAllFrames(openDicomBytes(bytes, name));
    return 'ok';
  } catch (err) {
    if (!(err instanceof DicomError)) throw new Error(`${name}: non-DicomError thrown: ${String(err)}`);
    expect(err.message.startsWith(name)).toBe(true);
    expect(err.reason).toBeTruthy();
    return err;
  }
}

describe('robustness', () => {
  it('refuses non-DICOM files with a reason', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-nondicom-'));
    const f = path.join(dir, 'notes.txt');
    fs.writeFileSync(f, 'hello, this is not a DICOM file at all'.repeat(10));
    await expect(readDicomHeader(f)).rejects.toMatchObject({ reason: 'not_dicom', file: f });
    const empty = path.join(dir, 'empty.dcm');
    fs.writeFileSync(empty, '');
    await expect(readDicomHeader(empty)).rejects.toBeInstanceOf(DicomError);
    await expect(readDicomHeader(path.join(dir, 'missing.dcm'))).rejects.toMatchObject({ reason: 'io' });
  });

  it('reads a raw dataset without preamble (implicit VR)', async () => {
    const src = corpus.files.find((f) => f.source.name === 'u12' && f.conversion?.name === 'implicit')!;
    const bytes = fs.readFileSync(src.file);
    // Strip preamble + meta group: find the end of group 0002 via its group length.
    const metaLen = bytes.readUInt32LE(132 + 8);
    const raw = bytes.subarray(132 + 12 + metaLen);
    const img = openDicomBytes(raw, 'raw.dcm');
    expect(img.header.transferSyntaxUID).toBe('1.2.840.10008.1.2');
    const [fr] = await decodeAllFrames(img);
    expect(fr!.rows).toBe(64);
  });

  it('cuts at every 1/40th of each syntax give truncation errors, never crashes', async () => {
    const bySyntax = new Map<string, string>();
    for (const f of corpus.files) if (f.source.name === 'u12x3') bySyntax.set(f.conversion?.name ?? 'source', f.file);
    for (const [name, file] of bySyntax) {
      const bytes = fs.readFileSync(file);
      for (let k = 1; k < 40; k++) {
        const cut = Math.floor((bytes.length * k) / 40);
        const r = await attempt(bytes.subarray(0, cut), `${name}@${cut}`);
        // Deflate can sometimes still decode a prefix; every other cut must be refused.
        if (name !== 'deflated' && name !== 'gdcm-deflated' && cut < bytes.length - 2) expect(r).not.toBe('ok');
      }
    }
  });

  it('random byte flips (seeded) never crash', { timeout: 120_000 }, async () => {
    const rng = mulberry32(20240601);
    const files = corpus.files.filter((f) => f.source.name === 'u12' || f.source.name === 'rgb8x2');
    let refused = 0;
    let total = 0;
    for (const f of files) {
      const orig = fs.readFileSync(f.file);
      for (let t = 0; t < 12; t++) {
        const b = Buffer.from(orig);
        const flips = 1 + Math.floor(rng() * 8);
        for (let i = 0; i < flips; i++) b[Math.floor(rng() * b.length)] = Math.floor(rng() * 256);
        const r = await attempt(b, `${path.basename(path.dirname(f.file))}/${path.basename(f.file)}#${t}`);
        total++;
        if (r !== 'ok') refused++;
      }
    }
    expect(total).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(0);
  });

  it('wrong lengths: an element length past the end is a truncation', async () => {
    const src = corpus.files.find((f) => f.source.name === 'u12' && !f.conversion)!;
    const b = Buffer.from(fs.readFileSync(src.file));
    const at = b.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57])); // (7FE0,0010) OW
    b.writeUInt32LE(b.readUInt32LE(at + 8) + 1000, at + 8);
    const r = await attempt(b, 'longer.dcm');
    expect(r).not.toBe('ok');
    expect((r as DicomError).reason).toBe('truncated');
  });
});
