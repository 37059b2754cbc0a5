// The header facts the viewer's measurements choose a spacing from reach the frame as written:
// PixelSpacing, ImagerPixelSpacing, EstimatedRadiographicMagnificationFactor and
// PixelSpacingCalibrationType, on a real Part 10 file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseSpacing } from '../../../src/common/imaging/spacing';
import { SOP_CLASS } from '../../../src/main/dicom/header';
import { writeDicom, type DicomElement } from '../../../src/main/dicom/phantom';
import { decodeForDisplay } from '../../../src/main/imaging/frame-decode';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-spacing-tags-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, extra: DicomElement[]): string {
  const ds: DicomElement[] = [
    { tag: 0x00080016, vr: 'UI', value: SOP_CLASS.MgForPresentation },
    { tag: 0x00080018, vr: 'UI', value: '2.25.1' },
    { tag: 0x00080060, vr: 'CS', value: 'MG' },
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [2] },
    { tag: 0x00280011, vr: 'US', value: [2] },
    { tag: 0x00280100, vr: 'US', value: [16] },
    { tag: 0x00280101, vr: 'US', value: [12] },
    { tag: 0x00280102, vr: 'US', value: [11] },
    { tag: 0x00280103, vr: 'US', value: [0] },
    ...extra,
  ];
  const bytes = writeDicom(ds, {
    transferSyntaxUID: '1.2.840.10008.1.2.1',
    sopClassUID: SOP_CLASS.MgForPresentation,
    sopInstanceUID: '2.25.1',
    pixels: { native: new Uint8Array(new Uint16Array([1, 2, 3, 4]).buffer), vr: 'OW' },
  });
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('spacing tags in a frame', () => {
  it('carries each spacing tag as written, and the choice divides out the magnification', async () => {
    const file = write('ermf.dcm', [
      { tag: 0x00181114, vr: 'DS', value: '1.1' },
      { tag: 0x00181164, vr: 'DS', value: '0.11\\0.11' },
      { tag: 0x00280030, vr: 'DS', value: '0.11\\0.11' },
    ]);
    const { meta } = await decodeForDisplay({ instanceId: 1, file, frame: 0 });
    expect(meta.pixelSpacing).toEqual([0.11, 0.11]);
    expect(meta.imagerPixelSpacing).toEqual([0.11, 0.11]);
    expect(meta.magnificationFactor).toBe(1.1);
    expect(meta.spacingCalibration).toBeNull();
    const s = chooseSpacing({
      pixelSpacing: meta.pixelSpacing,
      imagerPixelSpacing: meta.imagerPixelSpacing ?? null,
      magnificationFactor: meta.magnificationFactor ?? null,
      calibrationType: meta.spacingCalibration ?? null,
    });
    expect(s.plane).toBe('breast');
    expect(s.row).toBeCloseTo(0.1, 9);
  });

  it('no longer passes ImagerPixelSpacing off as PixelSpacing; reads the calibration type', async () => {
    const bare = await decodeForDisplay({
      instanceId: 2,
      file: write('ips.dcm', [{ tag: 0x00181164, vr: 'DS', value: '0.07\\0.07' }]),
      frame: 0,
    });
    expect(bare.meta.pixelSpacing).toBeNull();
    expect(bare.meta.imagerPixelSpacing).toEqual([0.07, 0.07]);
    const calibrated = await decodeForDisplay({
      instanceId: 3,
      file: write('cal.dcm', [
        { tag: 0x00280030, vr: 'DS', value: '0.065\\0.065' },
        { tag: 0x00280a02, vr: 'CS', value: 'GEOMETRY' },
      ]),
      frame: 0,
    });
    expect(calibrated.meta.spacingCalibration).toBe('GEOMETRY');
  });
});
