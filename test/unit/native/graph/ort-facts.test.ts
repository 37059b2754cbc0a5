/**
 * Facts about onnxruntime-node 1.30 CPU that the engine's design depends on. If an ORT upgrade changes
 * one of them, this file says which design decision to revisit.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { encodeModel, attr, type OnnxAttr } from '../../../../src/native/graph/onnx/proto';

function oneNodeModel(
  op: string,
  inputs: { name: string; type: number; shape: number[] }[],
  outputs: { name: string; type: number }[],
  attrs: Record<string, OnnxAttr>,
) {
  return encodeModel({
    irVersion: 10,
    opsets: [{ domain: '', version: 21 }],
    producerName: 'test',
    producerVersion: '0',
    graph: {
      name: 'g',
      nodes: [{ opType: op, inputs: inputs.map((i) => i.name), outputs: outputs.map((o) => o.name), name: 'n', attrs }],
      initializers: [],
      inputs: inputs.map((i) => ({ name: i.name, dataType: i.type, shape: i.shape })),
      outputs: outputs.map((o) => ({ name: o.name, dataType: o.type })),
    },
  });
}

async function masks(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, out: string) {
  const s1 = await ort.InferenceSession.create(bytes);
  const s2 = await ort.InferenceSession.create(bytes);
  const run = async (s: ort.InferenceSession) => Array.from((await s.run(feeds))[out]!.data as ArrayLike<number>).map(Number);
  return { first: await run(s1), second: await run(s1), freshSession: await run(s2) };
}

describe('ORT randomness: why dropout hashes a fed seed instead of using Dropout(seed=...)', () => {
  const n = 256;
  const x = new ort.Tensor('float32', new Float32Array(n).fill(1), [n]);
  it('Dropout with a seed attribute: a fresh session repeats the sequence, but consecutive runs differ', async () => {
    const m = oneNodeModel(
      'Dropout',
      [
        { name: 'x', type: 1, shape: [n] },
        { name: 'ratio', type: 1, shape: [] },
        { name: 'training', type: 9, shape: [] },
      ],
      [
        { name: 'y', type: 1 },
        { name: 'mask', type: 9 },
      ],
      { seed: attr.int(7) },
    );
    const r = await masks(
      m,
      { x, ratio: new ort.Tensor('float32', Float32Array.from([0.5]), []), training: new ort.Tensor('bool', Uint8Array.from([1]), []) },
      'mask',
    );
    expect(r.second).not.toEqual(r.first);
    expect(r.freshSession).toEqual(r.first);
  });
  it('RandomUniformLike with a seed attribute behaves the same way', async () => {
    const m = oneNodeModel('RandomUniformLike', [{ name: 'x', type: 1, shape: [n] }], [{ name: 'u', type: 1 }], { seed: attr.float(7) });
    const r = await masks(m, { x }, 'u');
    expect(r.second).not.toEqual(r.first);
    expect(r.freshSession).toEqual(r.first);
  });
});

describe('ORT float64 kernel coverage that shapes the gradient tests', () => {
  const cases: [string, boolean][] = [
    ['Erf', false],
    ['Tanh', true],
    ['Exp', true],
    ['Sqrt', true],
  ];
  for (const [op, has] of cases) {
    it(`${op} float64 ${has ? 'exists' : 'is missing'}`, async () => {
      const m = oneNodeModel(op, [{ name: 'x', type: 11, shape: [2] }], [{ name: 'y', type: 11 }], {});
      const p = ort.InferenceSession.create(m);
      if (has) await expect(p).resolves.toBeTruthy();
      else await expect(p).rejects.toThrow(/Could not find an implementation/);
    });
  }
  it('LayerNormalization float64 runs but saves Mean/InvStdDev only as float32 (stash_type=0 has no kernel)', async () => {
    const ins = [
      { name: 'x', type: 11, shape: [2, 3] },
      { name: 's', type: 11, shape: [3] },
      { name: 'b', type: 11, shape: [3] },
    ];
    await expect(
      ort.InferenceSession.create(
        oneNodeModel(
          'LayerNormalization',
          ins,
          [
            { name: 'y', type: 11 },
            { name: 'm', type: 1 },
            { name: 'i', type: 1 },
          ],
          {},
        ),
      ),
    ).resolves.toBeTruthy();
    await expect(
      ort.InferenceSession.create(
        oneNodeModel(
          'LayerNormalization',
          ins,
          [
            { name: 'y', type: 11 },
            { name: 'm', type: 11 },
            { name: 'i', type: 11 },
          ],
          { stash_type: attr.int(0) },
        ),
      ),
    ).rejects.toThrow();
  });
  it('Resize (cubic) has no float64 kernel', async () => {
    const m = oneNodeModel(
      'Resize',
      [
        { name: 'x', type: 11, shape: [1, 1, 2, 2] },
        { name: 'roi', type: 1, shape: [0] },
        { name: 'scales', type: 1, shape: [4] },
      ],
      [{ name: 'y', type: 11 }],
      { mode: attr.string('cubic') },
    );
    await expect(ort.InferenceSession.create(m)).rejects.toThrow(/Could not find an implementation/);
  });
});
