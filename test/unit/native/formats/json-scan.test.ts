// The one JSON reader behind safetensors headers (ordered, strict) and Python configs (floats kept).
import { describe, it, expect } from 'vitest';
import { parseSafetensorsHeader } from '../../../../src/native/formats/safetensors';
import { PyFloat, pyDumps, pyLoads } from '../../../../src/native/formats/pyjson';

const header = (json: string) => {
  const body = new TextEncoder().encode(json);
  return parseSafetensorsHeader(body, 8 + body.length + 16, 'x.safetensors');
};

describe('Python-written JSON (pyLoads)', () => {
  it('keeps floats apart from ints, reads NaN / Infinity, and writes back what it read', () => {
    const text = '{"r": 8, "lora_alpha": 16.0, "lora_dropout": 1e-05, "x": [NaN, Infinity, -Infinity, -0.5], "s": "\\u00e9"}';
    const v = pyLoads(text) as Record<string, unknown>;
    expect(v.r).toBe(8);
    expect(v.lora_alpha).toBeInstanceOf(PyFloat);
    expect((v.x as PyFloat[]).map(Number)).toEqual([NaN, Infinity, -Infinity, -0.5]);
    expect(v.s).toBe('é');
    expect(pyDumps(pyLoads(text) as never)).toBe(text);
  });
  it('a repeated key keeps its first place and the last value, as Python does; bad text names the position', () => {
    expect(Object.entries(pyLoads('{"a": 1, "b": 2, "a": 3}') as object)).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
    expect(() => pyLoads('{"a": 1,}')).toThrow(/JSON: expected a string key at position 8/);
    expect(() => pyLoads('[1 2]')).toThrow(/JSON: expected ',' or '\]'/);
    expect(() => pyLoads('{"a": 1} x')).toThrow(/trailing characters/);
  });
});

describe('safetensors headers', () => {
  it('keep the file order of integer-like names and refuse NaN and duplicates', () => {
    const entry = (a: number) => `{"dtype":"F32","shape":[2],"data_offsets":[${a},${a + 8}]}`;
    const h = header(`{"10":${entry(0)},"2":${entry(8)}}`);
    expect([...h.tensors.keys()]).toEqual(['10', '2']);
    expect(() => header(`{"a":${entry(0)},"a":${entry(8)}}`)).toThrow(/duplicate key "a"/);
    expect(() => header(`{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,8]}}`)).toThrow(/unexpected token/);
  });
});
