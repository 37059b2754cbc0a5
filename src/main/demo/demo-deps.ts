// What the demo needs from the DICOM side (phantom exams, the pixel pipeline), shared by
// `cleft demo` and the app's first-run demo job.
import { createHash } from 'node:crypto';
import type { DemoDeps } from '../../native/cleft/demo';
import { generateExam, mulberry32 } from '../dicom/phantom/index';
import { prepareFiles } from '../dicom/pipeline/prepare';
import { PreprocessSpec, presetSpec } from '../dicom/pipeline/spec';

export const demoDeps: DemoDeps = {
  // 1/2 (quick 1/4) of the 'small' phantom size: the model sees 64x64 (quick 32x32)
  generateExam: (index, o) =>
    generateExam(index, {
      outDir: o.outDir,
      seed: o.seed,
      size: o.quick ? { rows: 128, columns: 104, pixelSpacing: 2.24 } : { rows: 256, columns: 208, pixelSpacing: 1.12 },
      syntaxes: ['explicit-le'],
    }),
  // the generator's first draw of an exam (src/main/dicom/phantom/index.ts planExam); the exam written is checked anyway
  predictDensity: (index, seed) => {
    const rng = mulberry32(createHash('sha256').update(`${seed}|${index}`).digest().readUInt32LE(0));
    return (['A', 'B', 'C', 'D'] as const)[Math.floor(rng() * 4)]!;
  },
  prepareFiles: (files, spec) => prepareFiles(files, spec as never),
  preprocessSpec: (size) => PreprocessSpec.parse({ ...presetSpec('cleft'), size }) as unknown as Record<string, unknown>,
};
