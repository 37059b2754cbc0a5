// Prepared data files: class names in the safetensors metadata, in the forms other tools write them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataFile } from '../../../../src/native/cleft/data';
import { readTensors, writeSafetensors } from '../../../../src/native/formats/safetensors';
import { QUICK_SIZES, writeTinyModels } from '../../../../src/native/cleft/tiny-models';
import { ROOT, runCli } from '../../../helpers/cli';

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-data-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const withMetadata = (name: string, metadata: Record<string, string> | null) => {
  const file = path.join(tmp, `${name}.safetensors`);
  writeSafetensors(file, { labels: { dtype: 'I64', shape: [2], data: BigInt64Array.from([0n, 1n]) } }, metadata);
  return new DataFile(file);
};

describe('DataFile.classNames', () => {
  it('reads a JSON list, "|"-separated and line-separated names, under class_names, classnames or classes', () => {
    expect(withMetadata('json', { class_names: '["fatty", "dense, heterogeneous"]' }).classNames()).toEqual([
      'fatty',
      'dense, heterogeneous',
    ]);
    expect(withMetadata('bar', { classnames: 'fatty | scattered|dense' }).classNames()).toEqual(['fatty', 'scattered', 'dense']);
    expect(withMetadata('lines', { classes: 'fatty\nscattered\r\ndense' }).classNames()).toEqual(['fatty', 'scattered', 'dense']);
    expect(withMetadata('none', null).classNames()).toBeNull();
  });

  it('refuses broken or too-short lists, naming the file and the key', () => {
    expect(() => withMetadata('broken', { class_names: '["fatty", ' }).classNames()).toThrow(
      /broken\.safetensors.*class_names is not valid JSON/,
    );
    expect(() => withMetadata('one', { class_names: 'fatty' }).classNames()).toThrow(/one\.safetensors.*at least 2 non-empty class names/);
    expect(() => withMetadata('empty', { classes: 'fatty||dense' }).classNames()).toThrow(/empty\.safetensors.*classes must list/);
    expect(() => withMetadata('numbers', { class_names: '[1, 2]' }).classNames()).toThrow(/at least 2 non-empty class names/);
  });
});

describe('cleft prompt-learn with class names instead of class_ids', () => {
  it('tokenizes the metadata names with the GPT-2 tokenizer and records them', { timeout: 120_000 }, () => {
    const models = writeTinyModels(path.join(tmp, 'models'), QUICK_SIZES, 3);
    const n = 6;
    const pixels = Float32Array.from({ length: n * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37));
    const data = path.join(tmp, 'named.safetensors');
    writeSafetensors(
      data,
      {
        pixel_values: { dtype: 'F32', shape: [n, 3, 32, 32], data: pixels },
        labels: { dtype: 'I64', shape: [n], data: BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 2n]) },
      },
      { class_names: JSON.stringify(['almost entirely fat', 'scattered fibroglandular', 'extremely dense']) },
    );
    const out = path.join(tmp, 'prompt-named');
    runCli(
      [
        'prompt-learn',
        ...['--text-model', models.text, '--tokenizer', path.join(ROOT, 'test/fixtures/gpt2-tokenizer')],
        ...['--image-model', models.image, '--heads', models.heads, '--data', data, '--n-ctx', '4'],
        ...['--lr', '1e-3', '--steps', '2', '--batch-size', '3', '--output', out],
      ],
      { dataDir: path.join(tmp, 'data') },
    );
    expect(readTensors(path.join(out, 'prompt.safetensors')).get('ctx')!.shape).toEqual([4, QUICK_SIZES.textDim]);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as { classNames: string[]; steps: number };
    expect(summary.classNames).toEqual(['almost entirely fat', 'scattered fibroglandular', 'extremely dense']);
    expect(summary.steps).toBe(2);
  });
});
