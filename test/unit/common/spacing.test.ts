// Which spacing the viewer's ruler and area tools use (IHE Mammography Image profile), and the
// measurements made with it.
import { describe, expect, it } from 'vitest';
import { chooseSpacing, formatMeasure, measureEllipseArea, measureLength, type SpacingTags } from '../../../src/common/imaging/spacing';

const none: SpacingTags = { pixelSpacing: null, imagerPixelSpacing: null, magnificationFactor: null, calibrationType: null };

describe('chooseSpacing', () => {
  const table: {
    name: string;
    tags: Partial<SpacingTags>;
    want: { source: string; plane: string; unit: string; row: number; column: number; note: RegExp };
  }[] = [
    {
      name: 'ImagerPixelSpacing alone: at the detector',
      tags: { imagerPixelSpacing: [0.07, 0.07] },
      want: {
        source: 'ImagerPixelSpacing',
        plane: 'detector',
        unit: 'mm',
        row: 0.07,
        column: 0.07,
        note: /ImagerPixelSpacing, at the detector/,
      },
    },
    {
      name: 'PixelSpacing equal to ImagerPixelSpacing, no calibration type: the detector spacing copied',
      tags: { pixelSpacing: [0.1, 0.1], imagerPixelSpacing: [0.1, 0.1] },
      want: { source: 'ImagerPixelSpacing', plane: 'detector', unit: 'mm', row: 0.1, column: 0.1, note: /at the detector/ },
    },
    {
      name: 'PixelSpacing with a calibration type: calibrated',
      tags: { pixelSpacing: [0.09, 0.09], imagerPixelSpacing: [0.1, 0.1], calibrationType: 'GEOMETRY' },
      want: {
        source: 'PixelSpacing',
        plane: 'calibrated',
        unit: 'mm',
        row: 0.09,
        column: 0.09,
        note: /PixelSpacing, calibrated \(GEOMETRY\)/,
      },
    },
    {
      name: 'PixelSpacing that differs from ImagerPixelSpacing: a correction was applied',
      tags: { pixelSpacing: [0.092, 0.092], imagerPixelSpacing: [0.1, 0.1] },
      want: { source: 'PixelSpacing', plane: 'calibrated', unit: 'mm', row: 0.092, column: 0.092, note: /^PixelSpacing, calibrated$/ },
    },
    {
      name: 'calibrated PixelSpacing wins over the magnification factor',
      tags: { pixelSpacing: [0.09, 0.09], imagerPixelSpacing: [0.1, 0.1], magnificationFactor: 1.1, calibrationType: 'FIDUCIAL' },
      want: { source: 'PixelSpacing', plane: 'calibrated', unit: 'mm', row: 0.09, column: 0.09, note: /FIDUCIAL/ },
    },
    {
      name: 'EstimatedRadiographicMagnificationFactor: ImagerPixelSpacing divided by it, at the breast',
      tags: { imagerPixelSpacing: [0.11, 0.1], magnificationFactor: 1.1 },
      want: {
        source: 'ImagerPixelSpacing',
        plane: 'breast',
        unit: 'mm',
        row: 0.1,
        column: 0.1 / 1.1,
        note: /÷ 1\.1 magnification, at the breast \(estimated\)/,
      },
    },
    {
      name: 'a magnification factor of 1 changes nothing',
      tags: { imagerPixelSpacing: [0.07, 0.07], magnificationFactor: 1 },
      want: { source: 'ImagerPixelSpacing', plane: 'detector', unit: 'mm', row: 0.07, column: 0.07, note: /at the detector/ },
    },
    {
      name: 'PixelSpacing without ImagerPixelSpacing (secondary capture): as given',
      tags: { pixelSpacing: [0.2, 0.25] },
      want: { source: 'PixelSpacing', plane: 'as given', unit: 'mm', row: 0.2, column: 0.25, note: /^PixelSpacing$/ },
    },
    {
      name: 'neither: pixels, never a made-up mm',
      tags: {},
      want: { source: 'none', plane: 'pixels', unit: 'px', row: 1, column: 1, note: /pixels/ },
    },
    {
      name: 'zero or negative spacings count as absent',
      tags: { pixelSpacing: [0, 0], imagerPixelSpacing: [-1, 0.1], magnificationFactor: 0 },
      want: { source: 'none', plane: 'pixels', unit: 'px', row: 1, column: 1, note: /pixels/ },
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const got = chooseSpacing({ ...none, ...row.tags });
      expect(got.source).toBe(row.want.source);
      expect(got.plane).toBe(row.want.plane);
      expect(got.unit).toBe(row.want.unit);
      expect(got.row).toBeCloseTo(row.want.row, 9);
      expect(got.column).toBeCloseTo(row.want.column, 9);
      expect(got.note).toMatch(row.want.note);
    });
  }
});

describe('measurements', () => {
  it('a length uses the row spacing vertically and the column spacing horizontally', () => {
    const s = { row: 0.2, column: 0.1 };
    expect(measureLength({ x: 0, y: 0 }, { x: 300, y: 0 }, s)).toBeCloseTo(30, 9);
    expect(measureLength({ x: 0, y: 0 }, { x: 0, y: 300 }, s)).toBeCloseTo(60, 9);
    expect(measureLength({ x: 10, y: 10 }, { x: 40, y: 30 }, s)).toBeCloseTo(5, 9); // 3-4-5
  });
  it('an ellipse area is pi times its half-axes in mm', () => {
    expect(measureEllipseArea({ x: 0, y: 0 }, { x: 200, y: 100 }, { row: 0.1, column: 0.1 })).toBeCloseTo(Math.PI * 10 * 5, 9);
    expect(measureEllipseArea({ x: 200, y: 100 }, { x: 0, y: 0 }, { row: 1, column: 1 })).toBeCloseTo(Math.PI * 100 * 50, 9);
  });
  it('formats with the unit, one decimal under 100', () => {
    expect(formatMeasure(42.345, 'mm')).toBe('42.3 mm');
    expect(formatMeasure(1204.4, 'px', true)).toBe('1,204 px²');
    expect(formatMeasure(78.54, 'mm', true)).toBe('78.5 mm²');
  });
});
