// Prepared pixels of library images in one float32 file ([N, 3, S, S] row-major), written once and
// read a batch at a time: training on thousands of images needs no more memory than a batch, and a
// resumed job reuses the file instead of decoding every DICOM again.
import fs from 'node:fs';
import path from 'node:path';
import { prepareFiles } from '../dicom/pipeline/prepare';
import { PreprocessSpec, type PreprocessSpecInput } from '../dicom/pipeline/spec';
import { canonicalJson, sha256Hex } from '../../native/io/hash';
import type { PixelSource } from '../../native/cleft/contrastive';

export interface PreparedPixels extends PixelSource {
  file: string;
  shape: [number, number, number, number];
  /** True when an earlier run's complete file was reused. */
  reused: boolean;
  close(): void;
}

export async function preparedPixelFile(
  dir: string,
  files: readonly string[],
  spec: PreprocessSpecInput,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<PreparedPixels> {
  const size = PreprocessSpec.parse(spec).size;
  const per = 3 * size * size;
  const shape: [number, number, number, number] = [files.length, 3, size, size];
  const file = path.join(dir, `pixels-${sha256Hex(canonicalJson({ spec, files })).slice(0, 16)}.f32`);
  const bytes = files.length * per * 4;
  const reused = fs.existsSync(file) && fs.statSync(file).size === bytes;
  if (!reused) {
    fs.mkdirSync(dir, { recursive: true });
    const partial = `${file}.partial`;
    const fd = fs.openSync(partial, 'w');
    try {
      for (let s = 0; s < files.length; s += 16) {
        if (options.signal?.aborted) throw new Error('cancelled');
        const r = await prepareFiles(files.slice(s, s + 16), spec);
        if (r.shape[2] !== size) throw new Error(`prepared images are ${r.shape[2]} pixels wide, the spec says ${size}`);
        fs.writeSync(fd, new Uint8Array(r.pixelValues.buffer, r.pixelValues.byteOffset, r.pixelValues.byteLength));
        options.onProgress?.(Math.min(files.length, s + 16), files.length);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(partial, file);
  }
  const fd = fs.openSync(file, 'r');
  return {
    file,
    shape,
    reused,
    read(rows) {
      const out = new Float32Array(rows.length * per);
      const view = new Uint8Array(out.buffer);
      rows.forEach((r, i) => {
        if (r < 0 || r >= files.length) throw new Error(`pixel row ${r} is outside 0..${files.length - 1}`);
        const n = fs.readSync(fd, view, i * per * 4, per * 4, r * per * 4);
        if (n !== per * 4) throw new Error(`${file}: short read at row ${r}`);
      });
      return out;
    },
    close: () => fs.closeSync(fd),
  };
}
