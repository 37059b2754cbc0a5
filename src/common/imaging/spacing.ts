// Which pixel spacing a measurement on a projection radiograph uses, and the measurements made
// with it. The IHE Mammography Image profile (and DICOM's Basic Pixel Spacing Calibration macro):
//   - ImagerPixelSpacing (0018,1164) is the spacing at the detector plane: a length measured with it
//     is the length of the breast's shadow, magnified by the geometry (about 1.05-1.15 in mammography).
//   - PixelSpacing (0028,0030) is in the patient only when it was calibrated: it carries
//     PixelSpacingCalibrationType (0028,0A02), or it differs from ImagerPixelSpacing (a correction
//     was applied). PixelSpacing equal to ImagerPixelSpacing without a calibration type is the
//     detector's spacing copied over, and is treated as such.
//   - EstimatedRadiographicMagnificationFactor (0018,1114) corrects the detector spacing to the
//     breast: ImagerPixelSpacing / factor ("estimated at the breast").
//   - PixelSpacing without ImagerPixelSpacing (secondary captures, other modalities) is used as given.
//   - Neither: measure in pixels and say so, never a made-up millimetre.
// Pure functions over numbers: the viewer's ruler and area tools use them, and tests check them.

/** Row spacing \ column spacing in mm per pixel, as DICOM stores them. */
export type SpacingPair = readonly [number, number];

export interface SpacingTags {
  pixelSpacing: SpacingPair | null;
  imagerPixelSpacing: SpacingPair | null;
  /** EstimatedRadiographicMagnificationFactor (0018,1114). */
  magnificationFactor: number | null;
  /** PixelSpacingCalibrationType (0028,0A02), e.g. GEOMETRY or FIDUCIAL. */
  calibrationType: string | null;
}

export type SpacingSource = 'PixelSpacing' | 'ImagerPixelSpacing' | 'none';

export interface SpacingChoice {
  unit: 'mm' | 'px';
  /** Size of one full-resolution pixel: vertical (between rows) and horizontal (between columns). 1 in pixels. */
  row: number;
  column: number;
  source: SpacingSource;
  /** The magnification factor divided out, when one was. */
  magnification: number | null;
  /** Where the figure holds, for the reader: "calibrated", "at the detector", "at the breast (estimated)". */
  plane: 'calibrated' | 'detector' | 'breast' | 'as given' | 'pixels';
  /** One short line naming the spacing used, shown beside every measurement. */
  note: string;
}

function valid(p: SpacingPair | null): p is SpacingPair {
  return p !== null && p.length === 2 && p.every((v) => Number.isFinite(v) && v > 0);
}

function same(a: SpacingPair, b: SpacingPair): boolean {
  return Math.abs(a[0] - b[0]) < 1e-6 && Math.abs(a[1] - b[1]) < 1e-6;
}

/** The spacing a measurement uses, by the rules above. */
export function chooseSpacing(tags: SpacingTags): SpacingChoice {
  const ps = valid(tags.pixelSpacing) ? tags.pixelSpacing : null;
  const ips = valid(tags.imagerPixelSpacing) ? tags.imagerPixelSpacing : null;
  const calibration = tags.calibrationType?.trim() || null;
  const factor =
    tags.magnificationFactor !== null && Number.isFinite(tags.magnificationFactor) && tags.magnificationFactor > 0
      ? tags.magnificationFactor
      : null;
  if (ps && (calibration || (ips && !same(ps, ips)))) {
    return {
      unit: 'mm',
      row: ps[0],
      column: ps[1],
      source: 'PixelSpacing',
      magnification: null,
      plane: 'calibrated',
      note: `PixelSpacing, calibrated${calibration ? ` (${calibration})` : ''}`,
    };
  }
  if (ips && factor !== null && factor !== 1) {
    return {
      unit: 'mm',
      row: ips[0] / factor,
      column: ips[1] / factor,
      source: 'ImagerPixelSpacing',
      magnification: factor,
      plane: 'breast',
      note: `ImagerPixelSpacing ÷ ${round(factor, 3)} magnification, at the breast (estimated)`,
    };
  }
  if (ips) {
    return {
      unit: 'mm',
      row: ips[0],
      column: ips[1],
      source: 'ImagerPixelSpacing',
      magnification: null,
      plane: 'detector',
      note: 'ImagerPixelSpacing, at the detector',
    };
  }
  if (ps) {
    return { unit: 'mm', row: ps[0], column: ps[1], source: 'PixelSpacing', magnification: null, plane: 'as given', note: 'PixelSpacing' };
  }
  return {
    unit: 'px',
    row: 1,
    column: 1,
    source: 'none',
    magnification: null,
    plane: 'pixels',
    note: 'no pixel spacing in the file: pixels',
  };
}

/** A point in full-resolution image pixels (column x, row y). */
export interface ImagePoint {
  x: number;
  y: number;
}

/** Length of the segment a-b in the choice's unit. */
export function measureLength(a: ImagePoint, b: ImagePoint, s: Pick<SpacingChoice, 'row' | 'column'>): number {
  return Math.hypot((b.x - a.x) * s.column, (b.y - a.y) * s.row);
}

/** Area of the axis-aligned ellipse inscribed in the box with corners a and b, in the unit squared. */
export function measureEllipseArea(a: ImagePoint, b: ImagePoint, s: Pick<SpacingChoice, 'row' | 'column'>): number {
  const rx = (Math.abs(b.x - a.x) / 2) * s.column;
  const ry = (Math.abs(b.y - a.y) / 2) * s.row;
  return Math.PI * rx * ry;
}

function round(n: number, digits: number): string {
  return Number(n.toFixed(digits)).toString();
}

/** "42.3 mm", "612 mm²", "85 px", "1,204 px²": one decimal under 100, none above. */
export function formatMeasure(value: number, unit: SpacingChoice['unit'], squared = false): string {
  const text = value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
  return `${text} ${unit}${squared ? '²' : ''}`;
}
