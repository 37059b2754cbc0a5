// The imaging facts the viewer and the model pipeline share (src/common/imaging), as tables of
// real cases. Chest wall: DICOM files built with the phantom generator (a rendered breast, header
// fields and pixels varied per row) go through both consumers, the viewer's path (decodeForDisplay,
// the loader's buildImage, chestWallOfFrame) and the model's (prepareImage), which must agree.
// VOI: the window functions of PS3.3 C.11.2.1.2 by formula, then the viewer's table against the
// pipeline's values on a phantom file.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type EdgeBands,
  type Side,
  chestWallFromBands,
  chestWallFromHeader,
  chestWallFromOrientation,
  edgeBands,
  findChestWall,
} from '../../../src/common/imaging/chest-wall';
import {
  type Lut,
  type Window,
  applyLut,
  applyModality,
  applyVoiLut,
  applyWindow,
  modalityRange,
  normaliseVoiFunction,
} from '../../../src/common/imaging/voi';
import { decodeFrame, openDicomFile } from '../../../src/main/dicom/decode';
import { type DicomElement, renderBreast, mulberry32, writeDicom } from '../../../src/main/dicom/phantom/index';
import { prepareImage, toStage } from '../../../src/main/dicom/pipeline/prepare';
import { PRESETS } from '../../../src/main/dicom/pipeline/spec';
import { TS } from '../../../src/main/dicom/transfer-syntax';
import { decodeForDisplay } from '../../../src/main/imaging/frame-decode';
import { chestWallOfFrame } from '../../../src/renderer/src/lib/viewer/hanging';
import { buildImage } from '../../../src/renderer/src/lib/viewer/loader';
import { buildVoiLut } from '../../../src/renderer/src/lib/viewer/voi';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

const ROWS = 256;
const COLS = 208;
const MG_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.2';

/** A rendered breast whose chest wall is at `edge` (the phantom puts R on the right, L on the left). */
function breast(edge: Side, view: 'CC' | 'MLO', seed: number): Uint16Array {
  const spec = { rows: ROWS, columns: COLS, side: edge === 'right' ? 'R' : 'L', view, density: 'B', masses: [], calcifications: [] };
  return renderBreast({ ...spec, pixelSpacing: 1.12 } as Parameters<typeof renderBreast>[0], mulberry32(seed)).pixels;
}

function mirror(px: Uint16Array): Uint16Array {
  const out = new Uint16Array(px.length);
  for (let y = 0; y < ROWS; y++) for (let x = 0; x < COLS; x++) out[y * COLS + x] = px[y * COLS + COLS - 1 - x]!;
  return out;
}

/** A bright block (a burned-in "L MLO" marker) near the top of the given edge. */
function label(px: Uint16Array, edge: Side, value = 4095): Uint16Array {
  const out = px.slice();
  for (let y = 8; y < 40; y++) for (let x = 4; x < 48; x++) out[y * COLS + (edge === 'left' ? x : COLS - 1 - x)] = value;
  return out;
}

/** A faint difference: a 20 x 20 patch at mid-height by the given edge, a few values brighter. */
function nudge(px: Uint16Array, edge: Side): Uint16Array {
  const out = px.slice();
  for (let y = 118; y < 138; y++)
    for (let x = 0; x < 20; x++) {
      const i = y * COLS + (edge === 'left' ? x : COLS - 1 - x);
      out[i] = out[i]! + 4;
    }
  return out;
}

/** The same tissue on both halves: each column the mean of itself and its mirror. */
function symmetric(px: Uint16Array): Uint16Array {
  const out = new Uint16Array(px.length);
  for (let y = 0; y < ROWS; y++)
    for (let x = 0; x < COLS; x++) out[y * COLS + x] = Math.round((px[y * COLS + x]! + px[y * COLS + COLS - 1 - x]!) / 2);
  return out;
}

interface Header {
  imageLaterality?: string;
  laterality?: string;
  orientation?: string;
  view?: string;
  monochrome1?: boolean;
}

let serial = 0;
function writeFile(dir: string, name: string, h: Header, pixels: Uint16Array): string {
  const uid = `2.25.77${++serial}`;
  const ds: DicomElement[] = [
    { tag: 0x00080016, vr: 'UI', value: MG_FOR_PRESENTATION },
    { tag: 0x00080018, vr: 'UI', value: uid },
    { tag: 0x00080060, vr: 'CS', value: 'MG' },
    { tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' },
    { tag: 0x00185101, vr: 'CS', value: h.view ?? 'CC' },
    ...(h.orientation ? [{ tag: 0x00200020, vr: 'CS' as const, value: h.orientation }] : []),
    ...(h.laterality ? [{ tag: 0x00200060, vr: 'CS' as const, value: h.laterality }] : []),
    ...(h.imageLaterality ? [{ tag: 0x00200062, vr: 'CS' as const, value: h.imageLaterality }] : []),
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: h.monochrome1 ? 'MONOCHROME1' : 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [ROWS] },
    { tag: 0x00280011, vr: 'US', value: [COLS] },
    { tag: 0x00280100, vr: 'US', value: [16] },
    { tag: 0x00280101, vr: 'US', value: [12] },
    { tag: 0x00280102, vr: 'US', value: [11] },
    { tag: 0x00280103, vr: 'US', value: [0] },
    { tag: 0x00281050, vr: 'DS', value: '2000\\2400' },
    { tag: 0x00281051, vr: 'DS', value: '3000\\2000' },
    { tag: 0x00281056, vr: 'CS', value: 'SIGMOID' },
  ];
  const bytes = writeDicom(ds, {
    transferSyntaxUID: TS.ExplicitLE,
    sopClassUID: MG_FOR_PRESENTATION,
    sopInstanceUID: uid,
    pixels: { native: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), vr: 'OW' },
  });
  const file = path.join(dir, `${name}.dcm`);
  fs.writeFileSync(file, bytes);
  return file;
}

interface ChestWallCase {
  name: string;
  header: Header;
  pixels: () => Uint16Array;
  /** The viewer's answer: null leaves the image as stored. */
  viewer: Side | null;
  /** The model's answer (it always needs a side) and what decided it. */
  engine: Side;
  source: 'orientation' | 'laterality' | 'image';
}

const cases: ChestWallCase[] = [
  {
    name: 'left MLO, chest wall at the left edge, PatientOrientation A\\F',
    header: { imageLaterality: 'L', orientation: 'A\\F', view: 'MLO' },
    pixels: () => breast('left', 'MLO', 1),
    viewer: 'left',
    engine: 'left',
    source: 'orientation',
  },
  {
    name: 'right CC, PatientOrientation P\\L',
    header: { imageLaterality: 'R', orientation: 'P\\L' },
    pixels: () => breast('right', 'CC', 2),
    viewer: 'right',
    engine: 'right',
    source: 'orientation',
  },
  {
    name: 'right CC stored flipped, PatientOrientation A\\R says so: orientation beats laterality',
    header: { imageLaterality: 'R', orientation: 'A\\R' },
    pixels: () => mirror(breast('right', 'CC', 3)),
    viewer: 'left',
    engine: 'left',
    source: 'orientation',
  },
  {
    name: 'right MLO, no orientation: laterality R by the standard storage',
    header: { imageLaterality: 'R', view: 'MLO' },
    pixels: () => breast('right', 'MLO', 4),
    viewer: 'right',
    engine: 'right',
    source: 'laterality',
  },
  {
    name: 'left CC, only Laterality (0020,0060) written',
    header: { laterality: 'L' },
    pixels: () => breast('left', 'CC', 5),
    viewer: 'left',
    engine: 'left',
    source: 'laterality',
  },
  {
    // The pixels say right; laterality decides (the model pipeline's established rule).
    name: 'left CC stored flipped without orientation: laterality, not the pixels',
    header: { imageLaterality: 'L' },
    pixels: () => mirror(breast('left', 'CC', 6)),
    viewer: 'left',
    engine: 'left',
    source: 'laterality',
  },
  {
    name: 'no orientation, no laterality (anonymised): tissue at the left edge',
    header: {},
    pixels: () => breast('left', 'MLO', 7),
    viewer: 'left',
    engine: 'left',
    source: 'image',
  },
  {
    name: 'no header facts, a flipped right CC: tissue at the left edge',
    header: {},
    pixels: () => mirror(breast('right', 'CC', 8)),
    viewer: 'left',
    engine: 'left',
    source: 'image',
  },
  {
    name: 'no header facts, a bright label burned in at the air-side edge',
    header: {},
    pixels: () => label(breast('right', 'CC', 9), 'left'),
    viewer: 'right',
    engine: 'right',
    source: 'image',
  },
  {
    name: 'no header facts, MONOCHROME1 (tissue dark), chest wall at the left edge',
    header: { monochrome1: true },
    pixels: () => breast('left', 'CC', 10).map((v) => 4095 - v),
    viewer: 'left',
    engine: 'left',
    source: 'image',
  },
  {
    name: 'no header facts, symmetric tissue: the viewer leaves it, the model takes left on the tie',
    header: {},
    pixels: () => symmetric(breast('left', 'CC', 11)),
    viewer: null,
    engine: 'left',
    source: 'image',
  },
  {
    name: 'no header facts, near-symmetric (slightly brighter on the right): undecided for the viewer',
    header: {},
    pixels: () => nudge(symmetric(breast('left', 'CC', 12)), 'right'),
    viewer: null,
    engine: 'right',
    source: 'image',
  },
  {
    name: 'near-symmetric with laterality R: the laterality decides',
    header: { imageLaterality: 'R' },
    pixels: () => symmetric(breast('left', 'CC', 13)),
    viewer: 'right',
    engine: 'right',
    source: 'laterality',
  },
];

describe('chest-wall side: viewer and model on the same files', () => {
  const dir = tmpDir('cleft-imaging-');
  for (const c of cases) {
    it(c.name, async () => {
      const px = c.pixels();
      const file = writeFile(dir, c.name.replace(/\W+/g, '-'), c.header, px);
      // The rule itself on the stored values, as a table row.
      const fromRule = findChestWall({
        patientOrientation: c.header.orientation,
        laterality: c.header.imageLaterality ?? c.header.laterality,
        bands: () => edgeBands({ width: COLS, height: ROWS, data: px }),
        tissueDark: c.header.monochrome1,
      });
      expect(fromRule?.side ?? null).toBe(c.viewer);
      // The viewer: a reduced display frame, as a viewport asks for it.
      const { meta, data } = await decodeForDisplay({ instanceId: 1, file, frame: 0, maxSize: 128 });
      expect(meta.rows).toBeLessThan(ROWS);
      const image = buildImage('cleft:1:0@128', meta, data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
      expect(chestWallOfFrame(meta, image.cleft.stored)).toBe(c.viewer);
      // The model, with both intensity presets (its values are windowed or scaled, not stored).
      const img = await openDicomFile(file);
      for (const preset of [PRESETS.voi, PRESETS.cleft]) {
        const p = await prepareImage(img, preset);
        expect({ side: p.chestWall, source: p.chestWallSource, flipped: p.flipped }).toEqual({
          side: c.engine,
          source: c.source,
          flipped: false,
        });
        if (c.viewer) expect(p.chestWall).toBe(c.viewer);
      }
      const wanted = c.engine === 'left' ? 'right' : 'left';
      const flipped = await prepareImage(img, { ...PRESETS.cleft, flip: wanted === 'left' ? 'chest-wall-left' : 'chest-wall-right' });
      expect({ flipped: flipped.flipped, side: flipped.chestWall }).toEqual({ flipped: true, side: wanted });
    });
  }
});

describe('chest-wall side when the model keeps MONOCHROME1 as stored', () => {
  it('reads dark tissue as tissue (invertMonochrome1 off), as the viewer does', async () => {
    const dir = tmpDir('cleft-imaging-m1-');
    for (const edge of ['left', 'right'] as const) {
      const file = writeFile(
        dir,
        `m1-${edge}`,
        { monochrome1: true },
        breast(edge, 'CC', 30).map((v) => 4095 - v),
      );
      const img = await openDicomFile(file);
      for (const preset of [PRESETS.voi, PRESETS.cleft]) {
        const p = await prepareImage(img, { ...preset, invertMonochrome1: false });
        expect({ side: p.chestWall, source: p.chestWallSource }).toEqual({ side: edge, source: 'image' });
      }
    }
  });
});

describe('chest-wall rule, piece by piece', () => {
  it('PatientOrientation: the row direction, as values or as written', () => {
    const rows: [string | string[] | null, Side | null][] = [
      ['A\\R', 'left'],
      ['P\\L', 'right'],
      [['P', 'F'], 'right'],
      [['a', 'fl'], 'left'],
      [['L', 'F'], null], // a row direction across the body says nothing about the chest wall
      ['', null],
      [null, null],
    ];
    for (const [value, side] of rows) expect(chestWallFromOrientation(value), String(value)).toBe(side);
  });

  it('header: orientation first, then laterality (trimmed, any case), else nothing', () => {
    expect(chestWallFromHeader({ patientOrientation: ['A', 'R'], laterality: 'R' })).toEqual({ side: 'left', source: 'orientation' });
    expect(chestWallFromHeader({ patientOrientation: [''], laterality: ' r ' })).toEqual({ side: 'right', source: 'laterality' });
    expect(chestWallFromHeader({ patientOrientation: null, laterality: 'B' })).toBeNull();
  });

  it('bands: the outer quarter of columns, first sample, through a table when given', () => {
    // 1 row, 8 columns: quarters are columns 0-1 and 6-7.
    const data = Int32Array.from([5, 5, 0, 0, 0, 0, 1, 2]);
    expect(edgeBands({ width: 8, height: 1, data })).toEqual({ left: 10, right: 3, count: 2, min: 1, max: 5 });
    const rgb = Int32Array.from([9, 0, 0, 1, 0, 0, 1, 0, 0, 2, 0, 0]);
    expect(edgeBands({ width: 4, height: 1, channels: 3, data: rgb })).toMatchObject({ left: 9, right: 2, count: 1 });
    const viaLut = edgeBands({ width: 8, height: 1, data, lut: Float32Array.from([10, 11, 12, 13, 14, 15]), lo: 0 });
    expect(viaLut).toEqual({ left: 30, right: 23, count: 2, min: 11, max: 15 });
  });

  it('pixels: the brighter band, the darker for dark tissue; within the margin undecided', () => {
    const b = (left: number, right: number): EdgeBands => ({ left, right, count: 10, min: 0, max: 100 });
    // Margin: 2% of the range (100) per value, 10 values -> sums within 20 are undecided.
    expect(chestWallFromBands(b(500, 100))).toBe('left');
    expect(chestWallFromBands(b(500, 100), { tissueDark: true })).toBe('right');
    expect(chestWallFromBands(b(120, 100))).toBeNull();
    expect(chestWallFromBands(b(121, 100))).toBe('left');
    expect(chestWallFromBands(b(100, 100), { margin: 0 })).toBeNull();
    expect(chestWallFromBands(b(100, 100.5), { margin: 0 })).toBe('right');
    expect(chestWallFromBands({ left: 7, right: 7, count: 4, min: 7, max: 7 })).toBeNull(); // flat image
    expect(chestWallFromBands({ left: 0, right: 0, count: 0, min: Infinity, max: -Infinity })).toBeNull();
  });
});

describe('VOI window functions (PS3.3 C.11.2.1.2)', () => {
  // [description, window, inputs, expected outputs on 0..255]
  const rows: [string, Window, number[], number[]][] = [
    [
      "LINEAR, the phantoms' first window (2000/3000): ramp from c - 0.5 - (w-1)/2 to c - 0.5 + (w-1)/2",
      { center: 2000, width: 3000, fn: 'LINEAR' },
      [0, 500, 1999.5, 3499, 3499.5, 4095],
      [0, 0, 127.5, (1499.5 / 2999 + 0.5) * 255, 255, 255],
    ],
    ['LINEAR, 2048/4096 (12-bit full range)', { center: 2048, width: 4096, fn: 'LINEAR' }, [0, 2047.5, 4096], [0, 127.5, 255]],
    ['LINEAR width 1: a threshold at the centre', { center: 10, width: 1, fn: 'LINEAR' }, [9, 9.5, 9.6, 10, 11], [0, 0, 255, 255, 255]],
    ['LINEAR width below 1 reads as 1', { center: 10, width: 0.25, fn: 'LINEAR' }, [9.5, 9.6], [0, 255]],
    [
      'LINEAR_EXACT: the plain ramp c - w/2 .. c + w/2',
      { center: 100, width: 50, fn: 'LINEAR_EXACT' },
      [75, 100, 112.5, 125, 126],
      [0, 127.5, 191.25, 255, 255],
    ],
    ['LINEAR_EXACT width 1', { center: 10, width: 1, fn: 'LINEAR_EXACT' }, [9.5, 10, 10.25, 10.5, 10.6], [0, 127.5, 191.25, 255, 255]],
    [
      "SIGMOID, the phantoms' second window (2400/2000, VOILUTFunction SIGMOID)",
      { center: 2400, width: 2000, fn: 'SIGMOID' },
      [2400, 2900, 1900, -1e9],
      [127.5, 255 / (1 + Math.exp(-1)), 255 / (1 + Math.exp(1)), 0],
    ],
    [
      'SIGMOID width 1: steep but smooth',
      { center: 0, width: 1, fn: 'SIGMOID' },
      [0, 0.25, -0.25],
      [127.5, 255 / (1 + Math.exp(-1)), 255 / (1 + Math.exp(1))],
    ],
  ];
  for (const [name, w, xs, ys] of rows)
    it(name, () => {
      const out = applyWindow(Float32Array.from(xs), w);
      expect(out).toBeInstanceOf(Float32Array);
      xs.forEach((x, i) => expect(out[i], `x = ${x}`).toBeCloseTo(ys[i]!, 3));
    });

  it('onto another output range, as the viewer may ask', () => {
    expect(Array.from(applyWindow([1999.5, 500, 4095], { center: 2000, width: 3000, fn: 'LINEAR' }, -1, 1))).toEqual([0, -1, 1]);
  });

  it('VOILUTFunction as written in a header; LINEAR when absent or unknown', () => {
    const rows: [string | null, string][] = [
      ['SIGMOID', 'SIGMOID'],
      ['sigmoid ', 'SIGMOID'],
      ['LINEAR_EXACT', 'LINEAR_EXACT'],
      ['LINEAR', 'LINEAR'],
      ['NONSENSE', 'LINEAR'],
      [null, 'LINEAR'],
    ];
    for (const [value, fn] of rows) expect(normaliseVoiFunction(value)).toBe(fn);
  });
});

describe('modality and VOI LUTs', () => {
  const lut = (firstMapped: number, data: number[], bits: number): Lut => ({ firstMapped, data: Float64Array.from(data), bits });

  it('rescale: stored x slope + intercept (absent: 1 and 0); a negative slope swaps the range', () => {
    expect(Array.from(applyModality(Int32Array.from([0, 1, 4095]), { slope: 2, intercept: -1024 }))).toEqual([-1024, -1022, 7166]);
    expect(Array.from(applyModality([3], { slope: null, intercept: undefined }))).toEqual([3]);
    expect(modalityRange(10, 4000, { slope: -1, intercept: 0 })).toEqual([-4000, -10]);
  });

  it('a LUT maps rounded values and clamps outside its entries', () => {
    const t = lut(-2, [100, 200, 300], 16);
    expect([-5, -2, -1.4, 0, 7].map((v) => applyLut(v, t))).toEqual([100, 100, 200, 300, 300]);
    expect(Array.from(applyModality([-2, 0], { slope: 9, intercept: 9 }, t))).toEqual([100, 300]); // the LUT wins over rescale
  });

  it('a VOI LUT declared 16-bit but holding 10-bit entries is scaled by its real maximum', () => {
    const out = applyVoiLut([0, 1, 2, 3], lut(0, [0, 256, 512, 1023], 16));
    expect(Array.from(out).map((v) => Math.round(v * 100) / 100)).toEqual([0, 63.81, 127.62, 255]);
  });
});

describe('VOI on a phantom file: the viewer table and the model pipeline agree', () => {
  it('every pixel of a SIGMOID phantom, through either window', async () => {
    const dir = tmpDir('cleft-imaging-voi-');
    const file = writeFile(dir, 'voi', { imageLaterality: 'L', orientation: 'A\\R' }, breast('left', 'CC', 21));
    const img = await openDicomFile(file);
    const frame = await decodeFrame(img, 0);
    const stored = toStage(img, frame, 'stored');
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of stored) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (const index of [0, 1]) {
      const model = toStage(img, frame, 'voi', index);
      const table = buildVoiLut(lo, hi, { center: img.header.windowCenter[index]!, width: img.header.windowWidth[index]! }, 'SIGMOID');
      let worst = 0;
      for (let i = 0; i < stored.length; i++)
        worst = Math.max(worst, Math.abs(table.lut[stored[i]! - table.firstValueMapped]! - model[i]!));
      // The viewer's 8-bit entries are the model's values rounded.
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-4);
    }
  });
});
