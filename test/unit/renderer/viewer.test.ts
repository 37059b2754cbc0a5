// The viewer's pure parts: the cornerstone image our loader builds from an image.frame answer, the
// VOI table cornerstone applies and the presets, and the hanging. The window math and the
// chest-wall rule it shares with the model pipeline are tested in test/unit/common/imaging.test.ts.
import { describe, expect, it, vi } from 'vitest';
import { encodeBinary, type FrameMeta } from '../../../src/common/binary';
import type { InstanceSummary } from '../../../src/common/contract';
import { unpackBinary } from '../../../src/renderer/src/lib/client/binary';
import { needsFlip } from '../../../src/common/imaging/chest-wall';
import { assignHanging, SLOTS } from '../../../src/renderer/src/lib/viewer/hanging';
import { buildImage, createLoader, imageIdFor, parseImageId, requestSize } from '../../../src/renderer/src/lib/viewer/loader';
import { buildVoiLut, defaultWindow, presetsFor } from '../../../src/renderer/src/lib/viewer/voi';

function meta(over: Partial<FrameMeta> = {}): FrameMeta {
  return {
    instanceId: 3,
    frame: 0,
    numberOfFrames: 1,
    rows: 2,
    columns: 3,
    fullRows: 2,
    fullColumns: 3,
    samples: 1,
    dataType: 'uint16',
    minValue: 10,
    maxValue: 4000,
    photometric: 'MONOCHROME2',
    rescaleSlope: 1,
    rescaleIntercept: 0,
    windowCenter: [2000, 2400],
    windowWidth: [3000, 2000],
    windowExplanation: ['NORMAL', 'HARDER'],
    voiLutFunction: 'SIGMOID',
    laterality: 'R',
    viewPosition: 'CC',
    patientOrientation: null,
    pixelSpacing: [0.07, 0.08],
    forProcessing: false,
    ...over,
  };
}

function buffer(values: number[], ctor: { new (v: number[]): ArrayBufferView }): ArrayBuffer {
  const view = new ctor(values);
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
}

describe('image ids', () => {
  it('round-trip instance, frame and requested size', () => {
    expect(imageIdFor(42)).toBe('cleft:42:0');
    expect(imageIdFor(42, 2, 1024)).toBe('cleft:42:2@1024');
    expect(parseImageId('cleft:42')).toEqual({ instanceId: 42, frame: 0, maxSize: undefined });
    expect(parseImageId('cleft:42:2@1024')).toEqual({ instanceId: 42, frame: 2, maxSize: 1024 });
    expect(() => parseImageId('wadouri:x')).toThrow(/not a CLEFT image id/);
  });

  it('asks for about the viewport size on this screen, in shared steps, or the full frame', () => {
    expect(requestSize(430, 1, 4096)).toBe(512);
    expect(requestSize(430, 2, 4096)).toBe(1024);
    expect(requestSize(900, 1, 512)).toBeUndefined(); // the full frame is smaller than that
    expect(requestSize(5000, 1, 9000)).toBeUndefined();
  });
});

describe('buildImage', () => {
  it('builds a 16-bit greyscale image with the header window and spacing', () => {
    const img = buildImage('cleft:3:0', meta(), buffer([10, 20, 30, 40, 50, 4000], Uint16Array));
    expect(img.getPixelData()).toBeInstanceOf(Uint16Array);
    expect([...(img.getPixelData() as Uint16Array)]).toEqual([10, 20, 30, 40, 50, 4000]);
    expect(img).toMatchObject({
      rows: 2,
      columns: 3,
      width: 3,
      height: 2,
      minPixelValue: 10,
      maxPixelValue: 4000,
      slope: 1,
      intercept: 0,
      windowCenter: 2000,
      windowWidth: 3000,
      invert: false,
      color: false,
      rowPixelSpacing: 0.07,
      columnPixelSpacing: 0.08,
    });
    expect(img.cleft.reduced).toBe(false);
  });

  it('keeps signed types, inverts MONOCHROME1 and windows from min/max without a header window', () => {
    const img = buildImage(
      'cleft:3:0',
      meta({
        dataType: 'int16',
        minValue: -100,
        maxValue: 300,
        photometric: 'MONOCHROME1',
        windowCenter: [],
        windowWidth: [],
        rescaleSlope: 2,
        rescaleIntercept: -5,
      }),
      buffer([-100, 0, 100, 200, 300, 5], Int16Array),
    );
    expect(img.getPixelData()).toBeInstanceOf(Int16Array);
    expect(img.invert).toBe(true);
    expect(img.slope).toBe(2);
    expect(img.intercept).toBe(-5);
    // Modality range -205..595: centre 195, width 801.
    expect(img.windowCenter).toBe(195);
    expect(img.windowWidth).toBe(801);
  });

  it('scales pixel spacing of a reduced frame and flags it', () => {
    const img = buildImage('cleft:3:0@256', meta({ fullRows: 8, fullColumns: 12 }), buffer([1, 2, 3, 4, 5, 6], Uint16Array));
    expect(img.cleft.reduced).toBe(true);
    expect(img.rowPixelSpacing).toBeCloseTo(0.28);
    expect(img.columnPixelSpacing).toBeCloseTo(0.32);
  });

  it('measures with the IHE choice of spacing: ImagerPixelSpacing over the magnification factor, else pixels', () => {
    const img = buildImage(
      'cleft:3:0',
      meta({ pixelSpacing: null, imagerPixelSpacing: [0.11, 0.11], magnificationFactor: 1.1 }),
      buffer([1, 2, 3, 4, 5, 6], Uint16Array),
    );
    expect(img.cleft.spacing).toMatchObject({ source: 'ImagerPixelSpacing', plane: 'breast', unit: 'mm' });
    expect(img.rowPixelSpacing).toBeCloseTo(0.1);
    const bare = buildImage('cleft:3:0', meta({ pixelSpacing: null }), buffer([1, 2, 3, 4, 5, 6], Uint16Array));
    expect(bare.cleft.spacing).toMatchObject({ source: 'none', unit: 'px' });
    expect(bare.rowPixelSpacing).toBeUndefined();
  });

  it('turns RGB into the RGBA cornerstone draws', () => {
    const img = buildImage(
      'cleft:3:0',
      meta({ samples: 3, dataType: 'uint8', rows: 1, columns: 2, photometric: 'RGB' }),
      buffer([1, 2, 3, 4, 5, 6], Uint8Array),
    );
    expect(img.color).toBe(true);
    expect([...(img.getPixelData() as Uint8Array)]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
    expect(img.minPixelValue).toBe(0);
    expect(img.maxPixelValue).toBe(255);
  });

  it('quantises float32 to 16 bits and folds the step into the rescale', () => {
    const img = buildImage(
      'cleft:3:0',
      meta({ dataType: 'float32', minValue: -1, maxValue: 1, rows: 1, columns: 3 }),
      buffer([-1, 0, 1], Float32Array),
    );
    const px = img.getPixelData() as Uint16Array;
    expect([...px]).toEqual([0, 32768, 65535]);
    expect(px[0]! * img.slope + img.intercept).toBeCloseTo(-1);
    expect(px[2]! * img.slope + img.intercept).toBeCloseTo(1);
  });

  it('refuses a buffer shorter than the frame', () => {
    expect(() => buildImage('cleft:3:0', meta(), buffer([1, 2], Uint16Array))).toThrow(/pixel bytes/);
  });

  it('the loader fetches through invokeBinary and builds from the decoded buffer', async () => {
    const m = meta();
    const encoded = encodeBinary(m, new Uint8Array(new Uint16Array([10, 20, 30, 40, 50, 4000]).buffer));
    const invokeBinary = vi.fn(async () => unpackBinary('image.frame', encoded));
    const loader = createLoader({ invokeBinary } as never);
    const img = (await loader('cleft:3:0@512').promise) as ReturnType<typeof buildImage>;
    expect(invokeBinary).toHaveBeenCalledWith('image.frame', { instanceId: 3, frame: 0, maxSize: 512 });
    expect(img.imageId).toBe('cleft:3:0@512');
    expect(img.cleft.stored[5]).toBe(4000);
  });
});

describe('VOI LUT', () => {
  it('builds the table cornerstone applies, pinned to 8 bits by a trailing 255', () => {
    const t = buildVoiLut(0, 4095, { center: 2000, width: 3000 }, 'SIGMOID');
    expect(t.firstValueMapped).toBe(0);
    expect(t.lut).toHaveLength(4097);
    expect(t.lut[2000]).toBe(128); // round(127.5)
    expect(t.lut[4096]).toBe(255);
    expect(Math.max(...t.lut).toString(2)).toHaveLength(8);
    // A window far above every value: all dark, still an 8-bit table.
    const dark = buildVoiLut(0, 100, { center: 10_000, width: 10 }, 'LINEAR');
    expect(dark.lut.slice(0, 101).every((v) => v === 0)).toBe(true);
    expect(dark.lut.at(-1)).toBe(255);
    // Distinct tables for distinct windows (cornerstone caches by id).
    expect(buildVoiLut(0, 100, { center: 50, width: 10 }, 'LINEAR').id).not.toBe(
      buildVoiLut(0, 100, { center: 50, width: 11 }, 'LINEAR').id,
    );
  });

  it('offers the header windows with their explanations, full range and a narrow window', () => {
    const ps = presetsFor(meta());
    expect(ps.map((p) => p.label)).toEqual(['NORMAL', 'HARDER', 'Full range', 'Narrow (dense tissue)']);
    expect(ps[1]).toMatchObject({ window: { center: 2400, width: 2000 }, fn: 'SIGMOID' });
    expect(ps[2]).toMatchObject({ window: { center: 2005, width: 3991 }, fn: 'LINEAR' });
    expect(ps[3]!.window).toEqual({ center: 2000, width: 1200 });
    expect(defaultWindow(meta({ windowWidth: [0], windowCenter: [5] }))).toEqual({ center: 2005, width: 3991 });
  });
});

describe('chest-wall side', () => {
  it('mirrors only images whose chest wall is on the wrong side for their viewport', () => {
    const wanted = Object.fromEntries(SLOTS.map((s) => [s.id, s.chestWall]));
    expect(wanted).toEqual({ RCC: 'right', LCC: 'left', RMLO: 'right', LMLO: 'left' });
    expect(needsFlip('right', 'right')).toBe(false);
    expect(needsFlip('left', 'right')).toBe(true);
    expect(needsFlip('right', 'left')).toBe(true);
    expect(needsFlip(null, 'left')).toBe(false);
  });
});

function inst(id: number, laterality: string | null, view: string | null, intent = 'FOR PRESENTATION'): InstanceSummary {
  return {
    id,
    sopInstanceUid: `1.2.${id}`,
    seriesUid: '1.2',
    filePath: `/x/${id}.dcm`,
    modality: 'MG',
    laterality,
    viewPosition: view,
    rows: 4096,
    columns: 3328,
    bitsStored: 12,
    photometric: 'MONOCHROME2',
    numberOfFrames: 1,
    transferSyntaxUid: null,
    presentationIntent: intent,
    manufacturer: null,
  };
}

describe('assignHanging', () => {
  it('puts RCC, LCC, RMLO, LMLO in their viewports whatever the file order', () => {
    const h = assignHanging([inst(4, 'L', 'MLO'), inst(2, 'L', 'CC'), inst(3, 'R', 'MLO'), inst(1, 'R', 'CC')]);
    expect(SLOTS.map((s) => h[s.id]?.id)).toEqual([1, 2, 3, 4]);
    expect(SLOTS.map((s) => s.id)).toEqual(['RCC', 'LCC', 'RMLO', 'LMLO']);
  });

  it('prefers the standard view, then FOR PRESENTATION, then the latest image; leaves gaps empty', () => {
    const h = assignHanging([
      inst(1, 'R', 'XCCL'),
      inst(2, 'R', 'CC', 'FOR PROCESSING'),
      inst(3, 'R', 'CC'),
      inst(4, 'R', 'CC'),
      inst(5, 'L', 'ML'),
      inst(6, 'L', 'CC', 'FOR PROCESSING'),
      inst(7, 'l', ' mlo '),
    ]);
    expect(h.RCC?.id).toBe(4);
    expect(h.LCC?.id).toBe(6); // the only left CC, even for processing
    expect(h.RMLO).toBeNull();
    expect(h.LMLO?.id).toBe(7);
    expect(assignHanging([inst(9, 'L', 'ML')]).LMLO?.id).toBe(9); // ML stands in for MLO
    expect(assignHanging([inst(9, null, 'CC')]).RCC).toBeNull();
  });
});
