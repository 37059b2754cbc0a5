import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads, writeHeads, validateHeads, createHeads, LOGIT_SCALE_INIT } from '../../../../src/native/models/heads';
import { ModelFormatError } from '../../../../src/native/formats/hf-folder';
import { readSafetensorsHeader, readTensors, writeSafetensors } from '../../../../src/native/formats/safetensors';

const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heads-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('heads', () => {
  it('reads the fixture heads', () => {
    const h = readHeads(path.join(REF, 'heads.safetensors'));
    expect([h.projDim, h.textDim, h.imageDim]).toEqual([32, 64, 48]);
    expect(h.logitScaleShape).toEqual([]);
    const raw = readTensors(path.join(REF, 'heads.safetensors'));
    expect(h.logitScale).toBe((raw.get('logit_scale')!.data as Float32Array)[0]);
    expect(h.textProjection).toEqual(raw.get('text_projection.weight')!.data);
    validateHeads(h, 64, 48);
    expect(() => validateHeads(h, 768, 48)).toThrow(/64-d text features but the text encoder gives 768/);
  });
  it('round-trips the fixture byte for byte', () => {
    const out = path.join(tmp, 'rt.safetensors');
    writeHeads(out, readHeads(path.join(REF, 'heads.safetensors')));
    expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(path.join(REF, 'heads.safetensors')))).toBe(0);
  });
  it('writes new heads in the official layout and reads them back', () => {
    const h = createHeads(64, 48, 16, 3);
    expect(h.logitScale).toBeCloseTo(LOGIT_SCALE_INIT, 12);
    let ss = 0;
    for (const v of h.textProjection) ss += v * v;
    expect(Math.sqrt(ss / h.textProjection.length)).toBeGreaterThan(0.1); // ~ 64^-0.5 = 0.125
    expect(Math.sqrt(ss / h.textProjection.length)).toBeLessThan(0.15);
    const f = path.join(tmp, 'new.safetensors');
    writeHeads(f, h);
    const hdr = readSafetensorsHeader(f);
    expect([...hdr.tensors.keys()]).toEqual(['logit_scale', 'text_projection.weight', 'visual_projection.weight']);
    expect(hdr.metadata).toEqual({ format: 'pt' });
    const back = readHeads(f);
    expect(back.visualProjection).toEqual(h.visualProjection);
    expect(back.logitScale).toBe(Math.fround(LOGIT_SCALE_INIT));
  });
  it('refuses bad heads files', () => {
    const f = path.join(tmp, 'bad.safetensors');
    writeSafetensors(f, {
      'text_projection.weight': { dtype: 'F32', shape: [4, 2], data: new Float32Array(8) },
      'visual_projection.weight': { dtype: 'F32', shape: [3, 2], data: new Float32Array(6) },
      logit_scale: { dtype: 'F32', shape: [], data: new Float32Array(1) },
    });
    expect(() => readHeads(f)).toThrow(ModelFormatError);
    expect(() => readHeads(f)).toThrow(/projection dims differ/);
    writeSafetensors(f, {
      'text_projection.weight': { dtype: 'F32', shape: [4, 2], data: new Float32Array(8) },
      'visual_projection.bias': { dtype: 'F32', shape: [4], data: new Float32Array(4) },
      'visual_projection.weight': { dtype: 'F32', shape: [4, 2], data: new Float32Array(8) },
      logit_scale: { dtype: 'F32', shape: [1], data: new Float32Array(1) },
    });
    expect(() => readHeads(f)).toThrow(/"visual_projection.bias": unexpected tensor/);
    writeSafetensors(f, { 'text_projection.weight': { dtype: 'F32', shape: [4, 2], data: new Float32Array(8) } });
    expect(() => readHeads(f)).toThrow(/"visual_projection.weight": missing tensor/);
  });
});
