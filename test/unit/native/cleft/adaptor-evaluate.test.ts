// The frozen-backbone Adaptor on cached features (CLIP loss, then a linear probe) and `cleft evaluate`.
import { describe, it, expect, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { adaptImageRows, trainAdaptor, exportAdaptor } from '../../../../src/native/cleft/adaptor';
import { seededRandom } from '../../../../src/native/cleft/random';
import { readSafetensorsHeader } from '../../../../src/native/formats/safetensors';
import { runCli } from '../../../helpers/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-adaptor-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('adaptor', () => {
  it('aligns paired frozen features with the CLIP loss and probes labels, in seconds', async () => {
    // image and text features are two different random linear views of the same latent (class + noise)
    const rand = seededRandom(5);
    const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const n = 120;
    const K = 4;
    const z = 8;
    const [dI, dT] = [24, 16];
    const A = Array.from({ length: dI * z }, normal);
    const Bm = Array.from({ length: dT * z }, normal);
    const centers = Array.from({ length: K * z }, () => 2 * normal());
    const labels = Array.from({ length: n }, (_, i) => i % K);
    const img = new Float32Array(n * dI);
    const txt = new Float32Array(n * dT);
    labels.forEach((y, i) => {
      const lat = Array.from({ length: z }, (_, k) => centers[y * z + k]! + normal());
      for (let r = 0; r < dI; r++) img[i * dI + r] = lat.reduce((s, v, k) => s + v * A[r * z + k]!, 0) + 0.1 * normal();
      for (let r = 0; r < dT; r++) txt[i * dT + r] = lat.reduce((s, v, k) => s + v * Bm[r * z + k]!, 0) + 0.1 * normal();
    });
    const t0 = Date.now();
    const r = await trainAdaptor({
      imageFeatures: img,
      textFeatures: txt,
      imageDim: dI,
      textDim: dT,
      dim: 32,
      layers: 2,
      labels,
      optimizer: { kind: 'adamw', lr: 3e-3 },
      steps: 150,
      batchSize: 40,
      seed: 1,
      workDir: path.join(tmp, 'work'),
    });
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(r.loop.losses.at(-1)!).toBeLessThan(r.loop.losses[0]!);
    expect(r.retrieval.recallAt5ImageToText!).toBeGreaterThan(0.2); // chance 5/120
    expect(r.probe!.metrics.accuracy!).toBeGreaterThan(0.8);
    // The plain-JS image branch (used to classify with a saved Adaptor) matches the trained graph.
    const js = adaptImageRows(r.params, img, dI, 32, 2);
    let worst = 0;
    js.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - r.imageEmbeddings[i]!))));
    expect(worst).toBeLessThan(1e-4);
    exportAdaptor(path.join(tmp, 'out'), r);
    const h = readSafetensorsHeader(path.join(tmp, 'out', 'adaptor.safetensors'));
    expect(h.tensors.has('adaptor.image.layer1.mlp.fc.weight')).toBe(true);
    expect(h.tensors.get('logit_scale')!.shape).toEqual([]);
    expect(fs.existsSync(path.join(tmp, 'out', 'probe.safetensors'))).toBe(true);
  });
});

describe('adaptor training rows', () => {
  it("fits the module on the split's training rows only: with a split and labels (the CLI) exactly as on the training rows alone (the job)", async () => {
    const rand = seededRandom(9);
    const [n, dI, dT] = [12, 8, 6];
    const img = Float32Array.from({ length: n * dI }, () => rand() - 0.5);
    const txt = Float32Array.from({ length: n * dT }, () => rand() - 0.5);
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const split = { train: [0, 1, 2, 3, 4, 5, 6, 7], val: [8, 9, 10, 11] };
    const common = {
      imageDim: dI,
      textDim: dT,
      dim: 8,
      layers: 1,
      optimizer: { kind: 'adamw' as const, lr: 1e-2 },
      steps: 4,
      batchSize: 4,
      seed: 3,
    };
    // the CLI: train and val rows given, the split says which train the module
    const withSplit = await trainAdaptor({
      ...common,
      imageFeatures: img,
      textFeatures: txt,
      labels,
      probeSplit: split,
      workDir: path.join(tmp, 'w1'),
    });
    expect(withSplit.fitRows).toEqual(split.train);
    // the job: only the training rows given
    const onTrain = await trainAdaptor({
      ...common,
      imageFeatures: img.slice(0, 8 * dI),
      textFeatures: txt.slice(0, 8 * dT),
      workDir: path.join(tmp, 'w2'),
    });
    expect(onTrain.fitRows).toEqual(split.train);
    expect(withSplit.loop.losses).toEqual(onTrain.loop.losses);
    for (const [name, v] of onTrain.params) expect(withSplit.params.get(name), name).toEqual(v);
    // the validation rows changed nothing: other values there, the same module
    const otherVal = img.slice();
    otherVal.fill(0.25, 8 * dI);
    const changed = await trainAdaptor({
      ...common,
      imageFeatures: otherVal,
      textFeatures: txt,
      labels,
      probeSplit: split,
      workDir: path.join(tmp, 'w3'),
    });
    expect(changed.loop.losses).toEqual(withSplit.loop.losses);
  });
});

describe('cleft evaluate', () => {
  it('reads a predictions CSV and prints / writes the metrics', () => {
    const csv = path.join(tmp, 'pred.csv');
    fs.writeFileSync(
      csv,
      'id,label,p_A,p_B,p_C\n1,A,0.7,0.2,0.1\n2,B,0.2,0.5,0.3\n3,C,0.1,0.3,0.6\n4,A,0.3,0.4,0.3\n5,C,0.2,0.2,0.6\n6,B,0.1,0.8,0.1\n',
    );
    const out = path.join(tmp, 'metrics.json');
    const text = runCli(['evaluate', '--predictions', csv, '--bootstrap', '50', '--output', out]);
    expect(text).toContain('accuracy          83.3%');
    const m = JSON.parse(fs.readFileSync(out, 'utf8')) as { n: number; confusion: number[][]; classes: string[] };
    expect(m.n).toBe(6);
    expect(m.classes).toEqual(['A', 'B', 'C']);
    expect(m.confusion).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [0, 0, 2],
    ]);
  });
});
