// Phantoms are deterministic, valid for third-party tools (dcmtk dump, GDCM decode equals ours),
// follow the density classes, and the CLI commands produce the documented tensors. Also DICOMDIR.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFrame, openDicomFile } from '../../../src/main/dicom/decode';
import { dicomdirFiles } from '../../../src/main/dicom/dicomdir';
import { readDicomHeader } from '../../../src/main/dicom/header';
import { DENSITY_FRACTION, generatePhantoms } from '../../../src/main/dicom/phantom/index';
import { readTensor } from '../../../src/native/formats/safetensors';
import { requireTools } from './corpus';
import { runCli, cliOutcome } from '../../helpers/cli';

requireTools();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-phantom-'));
const cli = (...args: string[]): string => runCli(args);

describe('phantoms', () => {
  it('are deterministic from the seed', async () => {
    const a = await generatePhantoms({ outDir: path.join(root, 'a'), exams: 1, seed: 5, syntaxes: ['rle'] });
    const b = await generatePhantoms({ outDir: path.join(root, 'b'), exams: 1, seed: 5, syntaxes: ['rle'] });
    for (let i = 0; i < 4; i++) expect(fs.readFileSync(a[0]!.images[i]!.file).equals(fs.readFileSync(b[0]!.images[i]!.file))).toBe(true);
    expect(a[0]!.report).toBe(b[0]!.report);
  });

  it('are valid MG files that GDCM decodes to the same values as we do', async () => {
    const exams = await generatePhantoms({
      outDir: path.join(root, 'v'),
      exams: 5,
      seed: 9,
      syntaxes: ['explicit-le', 'deflated', 'rle', 'jpeg-ls', 'j2k'],
    });
    for (const e of exams) {
      expect(e.images.map((i) => i.view)).toEqual(['RCC', 'LCC', 'RMLO', 'LMLO']);
      expect(fs.readFileSync(path.join(e.dir, 'report.txt'), 'utf8')).toMatch(new RegExp(`ACR ${e.density}`));
      for (const im of e.images) expect(Math.abs(im.glandularFraction - DENSITY_FRACTION[e.density])).toBeLessThan(0.02);
      const f = e.images[0]!.file;
      const h = await readDicomHeader(f);
      expect(h).toMatchObject({
        modality: 'MG',
        sopClassUID: '1.2.840.10008.5.1.4.1.1.1.2',
        presentationIntentType: 'FOR PRESENTATION',
        imageLaterality: 'R',
        viewPosition: 'CC',
        bitsStored: 12,
        voiLutFunction: 'SIGMOID',
      });
      expect(h.windowCenter).toEqual([2000, 2400]);
      const raw = path.join(root, `${path.basename(e.dir)}-raw.dcm`);
      execFileSync('gdcmconv', ['--raw', f, raw]);
      const ours = await decodeFrame(await openDicomFile(f));
      const theirs = await decodeFrame(await openDicomFile(raw));
      expect(Buffer.from(ours.data.buffer).equals(Buffer.from(theirs.data.buffer))).toBe(true);
      expect(spawnSync('dcmdump', ['-q', f]).status).toBe(0);
    }
  });

  it('DICOMDIR (dcmmkdir) lists the files', async () => {
    const dir = path.join(root, 'media');
    await generatePhantoms({ outDir: dir, exams: 1, seed: 2, syntaxes: ['explicit-le'] });
    // dcmmkdir wants 8-character uppercase file IDs
    const sub = fs.readdirSync(dir)[0]!;
    fs.mkdirSync(path.join(dir, 'IMAGES'));
    ['RCC', 'LCC', 'RMLO', 'LMLO'].forEach((v, i) => fs.renameSync(path.join(dir, sub, `${v}.dcm`), path.join(dir, 'IMAGES', `IM${i}`)));
    execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', '--recurse', 'IMAGES'], { cwd: dir });
    const files = await dicomdirFiles(path.join(dir, 'DICOMDIR'));
    expect(files.map((f) => path.relative(dir, f)).sort()).toEqual(['IMAGES/IM0', 'IMAGES/IM1', 'IMAGES/IM2', 'IMAGES/IM3']);
  });
});

describe('CLI', () => {
  const out = path.join(root, 'cli');
  it('phantom, dicom info, pixels, prepare', () => {
    expect(cli('phantom', '--output', out, '--exams', '2', '--seed', '3', '--syntaxes', 'j2k,rle')).toMatch(/density/);
    const f = path.join(out, fs.readdirSync(out).sort()[0]!, 'LMLO.dcm');
    const info = JSON.parse(cli('dicom', 'info', f, '--json'));
    expect(info).toMatchObject({
      transferSyntaxUID: '1.2.840.10008.1.2.4.90',
      imageLaterality: 'L',
      viewPosition: 'MLO',
      rows: 512,
      columns: 416,
    });
    const px = path.join(root, 'px.safetensors');
    cli('dicom', 'pixels', f, '--output', px);
    const t = readTensor(px, 'pixels');
    expect(t.dtype).toBe('I32');
    expect(t.shape).toEqual([1, 512, 416]);
    cli('dicom', 'pixels', f, '--output', px, '--stage', 'voi', '--frame', '0');
    expect(readTensor(px, 'pixels').dtype).toBe('F32');
    const pv = path.join(root, 'pv.safetensors');
    cli('dicom', 'prepare', f, f, '--preset', 'voi', '--output', pv);
    const p = readTensor(pv, 'pixel_values');
    expect(p.shape).toEqual([2, 3, 224, 224]);
  });
  it('fails clearly on a bad file', () => {
    const bad = path.join(root, 'bad.dcm');
    fs.writeFileSync(bad, 'nope');
    const r = cliOutcome(['dicom', 'info', bad, '--json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}: not a DICOM file`);
  });
});
