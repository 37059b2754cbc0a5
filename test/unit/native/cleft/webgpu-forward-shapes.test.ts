// Training graphs for WebGPU have the static shapes of one micro-batch; a forward over another number
// of rows (evaluation, the Adaptor's embeddings of every row) gets its own static-shape forward
// (`forward.<dims>.onnx`, emitForwardFor), which must compute what the trained parameters give.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adaptImageRows, trainAdaptor } from '../../../../src/native/cleft/adaptor';
import { seededRandom } from '../../../../src/native/cleft/random';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import type { DeviceRecord } from '../../../../src/native/runtime/device-record';

const noWebgpu = await probeWebgpu();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-forward-shapes-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(noWebgpu !== undefined)(`static-shape forwards on WebGPU${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`, () => {
  it('train-adaptor with batches of 4: the forward over all 10 rows is emitted for 10 rows and equals the parameters applied in JS', async () => {
    const rand = seededRandom(3);
    const [n, dI, dT] = [10, 12, 8];
    const img = Float32Array.from({ length: n * dI }, () => 2 * rand() - 1);
    const txt = Float32Array.from({ length: n * dT }, () => 2 * rand() - 1);
    const workDir = path.join(tmp, 'work');
    let record: DeviceRecord | null = null;
    const r = await trainAdaptor({
      imageFeatures: img,
      textFeatures: txt,
      imageDim: dI,
      textDim: dT,
      dim: 16,
      layers: 1,
      optimizer: { kind: 'adamw', lr: 1e-2 },
      steps: 3,
      batchSize: 4,
      seed: 2,
      workDir,
      device: 'webgpu',
      onDevice: (d) => (record = d),
    });
    expect(record!.graphs.train_step).toMatchObject({ provider: 'webgpu', allNodesOnProvider: true, deterministic: false });
    expect(fs.readdirSync(workDir).filter((f) => /^forward\..+\.onnx$/.test(f))).toEqual(['forward.batch10.onnx']);
    const js = adaptImageRows(r.params, img, dI, 16, 1);
    let worst = 0;
    js.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - r.imageEmbeddings[i]!))));
    expect(worst).toBeLessThan(1e-4);
  }, 120_000);
});
