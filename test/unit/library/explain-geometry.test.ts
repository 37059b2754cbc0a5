// The patch map lands on the right pixels: a bright marker inside a synthetic breast is found in
// the model input, mapped back through gridAxes, and must fall on the marker in the DICOM file,
// for images the pipeline mirrors and images it does not, with and without the Otsu crop.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareFiles } from '../../../src/main/dicom/pipeline/prepare';
import { PreprocessSpec } from '../../../src/main/dicom/pipeline/spec';
import { gridAxes } from '../../../src/main/features/explain-geometry';
import { requireDump2dcm, writeMgInstance } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

const COLS = 300;
const ROWS = 500;
const MARKER = { x0: 120, x1: 160, y0: 200, y1: 260 };

/** Breast against the left or right edge, with a bright marker; the marker mirrored with it. */
function writeImage(file: string, side: 'left' | 'right', laterality: 'L' | 'R'): { cx: number; cy: number } {
  const mx0 = side === 'left' ? MARKER.x0 : COLS - MARKER.x1;
  const mx1 = side === 'left' ? MARKER.x1 : COLS - MARKER.x0;
  writeMgInstance(file, {
    sopInstanceUid: `1.2.3.${side}.${laterality}`.replace(/[a-z]/gi, (c) => String(c.charCodeAt(0))),
    studyUid: '1.2.3.4',
    seriesUid: '1.2.3.4.1',
    patientId: 'GEO',
    laterality,
    rows: ROWS,
    columns: COLS,
    pixel: (x, y) => {
      if (x >= mx0 && x < mx1 && y >= MARKER.y0 && y < MARKER.y1) return 4000;
      const inBreast = (side === 'left' ? x < 200 : x >= COLS - 200) && y >= 50 && y < 450;
      return inBreast ? 1200 : 0;
    },
  });
  return { cx: (mx0 + mx1) / 2, cy: (MARKER.y0 + MARKER.y1) / 2 };
}

/** Centroid (model pixels) of the brightest values of channel 0. */
function brightCentroid(px: Float32Array, size: number): { u: number; v: number } {
  let max = -Infinity;
  for (let i = 0; i < size * size; i++) max = Math.max(max, px[i]!);
  let su = 0;
  let sv = 0;
  let n = 0;
  for (let v = 0; v < size; v++)
    for (let u = 0; u < size; u++)
      if (px[v * size + u]! >= max - 0.05) {
        su += u + 0.5;
        sv += v + 0.5;
        n++;
      }
  return { u: su / n, v: sv / n };
}

describe('gridAxes', () => {
  requireDump2dcm();
  for (const otsuCrop of [true, false]) {
    it(`maps model pixels back onto the DICOM pixels (Otsu crop ${otsuCrop ? 'on' : 'off'}, mirrored and not)`, async () => {
      const dir = tmpDir('cleft-explain-geo-');
      const spec = PreprocessSpec.parse({
        version: 1,
        intensity: 'scale_max',
        flip: 'chest-wall-left',
        size: 64,
        padLongSide: 128,
        otsuCrop,
      });
      const flips = new Set<boolean>();
      for (const side of ['left', 'right'] as const)
        for (const lat of ['L', 'R'] as const) {
          const file = path.join(dir, `${side}-${lat}.dcm`);
          const truth = writeImage(file, side, lat);
          const batch = await prepareFiles([file], spec);
          const image = batch.images[0]!;
          flips.add(image.flipped);
          const c = brightCentroid(batch.pixelValues, spec.size);
          // One model pixel per "patch": the axes then map model pixel edges.
          const axes = gridAxes(image, spec, { columns: COLS, rows: ROWS }, { rows: spec.size, cols: spec.size }, { width: 1, height: 1 });
          const x = axes.x.origin + c.u * axes.x.step;
          const y = axes.y.origin + c.v * axes.y.step;
          // Within two model pixels' worth of original pixels (the resize blurs the marker's edges).
          const tolX = 2 * Math.abs(axes.x.step);
          const tolY = 2 * Math.abs(axes.y.step);
          expect(Math.abs(x - truth.cx), `${side}/${lat} flipped=${image.flipped}: x ${x} vs ${truth.cx}`).toBeLessThan(tolX);
          expect(Math.abs(y - truth.cy), `${side}/${lat}: y ${y} vs ${truth.cy}`).toBeLessThan(tolY);
        }
      expect([...flips].sort()).toEqual([false, true]);
    });
  }
});
