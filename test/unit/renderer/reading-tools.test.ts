// The viewer's reading tools as pure functions: measurement text with the spacing choice, the
// loupe's pixels through the VOI window (and the hanging's mirror), which study is the prior, and
// the JPEG 2000 resolution levels asked for on the way to the full frame.
import { describe, expect, it } from 'vitest';
import { chooseSpacing } from '../../../src/common/imaging/spacing';
import { renderLoupe } from '../../../src/renderer/src/lib/viewer/loupe';
import { measurementText } from '../../../src/renderer/src/lib/viewer/measure';
import { pickPrior } from '../../../src/renderer/src/lib/viewer/prior';
import { refinementSizes } from '../../../src/renderer/src/lib/viewer/progressive';

describe('measurementText', () => {
  it('says mm with a spacing and px without one', () => {
    const mm = chooseSpacing({ pixelSpacing: null, imagerPixelSpacing: [0.1, 0.1], magnificationFactor: null, calibrationType: null });
    const px = chooseSpacing({ pixelSpacing: null, imagerPixelSpacing: null, magnificationFactor: null, calibrationType: null });
    expect(measurementText({ kind: 'line', a: { x: 0, y: 0 }, b: { x: 300, y: 400 } }, mm)).toBe('Length 50.0 mm');
    expect(measurementText({ kind: 'line', a: { x: 0, y: 0 }, b: { x: 300, y: 400 } }, px)).toBe('Length 500 px');
    expect(measurementText({ kind: 'ellipse', a: { x: 0, y: 0 }, b: { x: 20, y: 20 } }, px)).toBe('Area 314 px²');
  });
});

describe('renderLoupe', () => {
  // A 4x1 full frame with values 0, 100, 200, 300; window 0..300 linear.
  const src = { stored: [0, 100, 200, 300], rows: 1, columns: 4, fullRows: 1, fullColumns: 4, slope: 1, intercept: 0 };
  const window = { center: 150.5, width: 301, fn: 'LINEAR' as const };
  /** The grey values of the loupe's middle row. */
  const grey = (out: Uint8ClampedArray, size: number) => Array.from({ length: size }, (_, i) => out[((size / 2) * size + i) * 4]!);

  it('shows real pixels around the point, magnified, black outside the image', () => {
    // Centre at x=2 (between pixels 1 and 2), 2 loupe pixels per image pixel, 8 wide: x from 0 to 4.
    const out = renderLoupe(src, { x: 2, y: 0.25, scale: 2, flip: false, window, invert: false }, 8);
    expect(grey(out, 8)).toEqual([0, 0, 85, 85, 170, 170, 255, 255]);
    const wide = renderLoupe(src, { x: 2, y: 0.25, scale: 1, flip: false, window, invert: false }, 8);
    expect(grey(wide, 8).slice(0, 2)).toEqual([0, 0]); // x < 0: outside
    expect(wide[3]).toBe(255); // opaque, also outside
  });
  it('mirrors as the viewport does and inverts', () => {
    const out = renderLoupe(src, { x: 2, y: 0.25, scale: 2, flip: true, window, invert: true }, 8);
    expect(grey(out, 8)).toEqual([0, 0, 85, 85, 170, 170, 255, 255].reverse().map((g) => 255 - g));
  });
  it('reads a reduced frame at the matching place', () => {
    const reduced = { stored: [0, 300], rows: 1, columns: 2, fullRows: 1, fullColumns: 4, slope: 1, intercept: 0 };
    const out = renderLoupe(reduced, { x: 2, y: 0.25, scale: 1, flip: false, window, invert: false }, 4);
    expect(grey(out, 4)).toEqual([0, 0, 255, 255]);
  });
});

describe('pickPrior', () => {
  const current = { id: 5, patientId: 'P1', studyDate: '20240110' };
  it('is the latest earlier study of the same patient', () => {
    const rows = [
      { id: 5, patientId: 'P1', studyDate: '20240110' },
      { id: 4, patientId: 'P1', studyDate: '20220301' },
      { id: 3, patientId: 'P1', studyDate: '20230301' },
      { id: 2, patientId: 'P10', studyDate: '20231201' }, // a substring match of the ID, another patient
      { id: 1, patientId: 'P1', studyDate: '20250101' }, // later: not a prior
      { id: 6, patientId: 'P1', studyDate: null },
    ];
    expect(pickPrior(current, rows)?.id).toBe(3);
  });
  it('none without an earlier dated study, or without a current date', () => {
    expect(pickPrior(current, [{ id: 7, patientId: 'P1', studyDate: '20240110' }])).toBeNull();
    expect(pickPrior({ ...current, studyDate: null }, [{ id: 4, patientId: 'P1', studyDate: '20220301' }])).toBeNull();
  });
});

describe('refinementSizes', () => {
  const J2K = '1.2.840.10008.1.2.4.90';
  it('asks for each JPEG 2000 resolution level between the preview and the full frame', () => {
    expect(refinementSizes(512, 4096, J2K)).toEqual([1024, 2048]);
    expect(refinementSizes(1024, 4096, '1.2.840.10008.1.2.4.201')).toEqual([2048]);
    expect(refinementSizes(256, 512, J2K)).toEqual([]); // the next level is the full frame
  });
  it('goes straight to the full frame for syntaxes that decode whole frames', () => {
    expect(refinementSizes(512, 4096, '1.2.840.10008.1.2.1')).toEqual([]);
    expect(refinementSizes(512, 4096, '1.2.840.10008.1.2.4.80')).toEqual([]);
    expect(refinementSizes(512, 4096, null)).toEqual([]);
  });
});
