// `cleft evaluate` on the predictions files researchers bring: every malformed file is refused with
// the file, the line and the reason (never an engine message, a NaN report or an out-of-memory
// abort), and a well-formed file's metrics are those of evaluate() on the same numbers.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labelIndices, readPredictions } from '../../../src/main/cli/commands/evaluate';
import { evaluate, MAX_CLASSES } from '../../../src/native/cleft/metrics';
import { writeSafetensors } from '../../../src/native/formats/safetensors';
import { cliOutcome } from '../../helpers/cli';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

const dir = tmpDir('cleft-evaluate-');
function csv(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return cliOutcome(['evaluate', ...args]);
}

describe('cleft evaluate input checks', () => {
  it('refuses a header-only CSV instead of printing "accuracy NaN%"', () => {
    const file = csv('header.csv', 'label,p_A,p_B\n');
    expect(() => readPredictions(file)).toThrow(`${file}: no rows, only a header`);
    const r = cli(['--predictions', file]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`cleft: ${file}: no rows, only a header`);
    expect(r.stdout).not.toContain('NaN');
  });

  it('refuses probabilities below 0, above 1, NaN or empty, with file, line and column', () => {
    const cases: [string, string][] = [
      ['A,-0.1,1.1', 'line 3, column p_A: "-0.1" is not a probability between 0 and 1'],
      ['A,0.5,1.5', 'line 3, column p_B: "1.5" is not a probability between 0 and 1'],
      ['A,NaN,0.5', 'line 3, column p_A: "NaN" is not a number'],
      ['A,abc,0.5', 'line 3, column p_A: "abc" is not a number'],
      ['A,,0.5', 'line 3: column p_A is empty'],
    ];
    cases.forEach(([row, message], i) => {
      const file = csv(`range-${i}.csv`, `label,p_A,p_B\nB,0.2,0.8\n${row}\n`);
      expect(() => readPredictions(file)).toThrow(`${file}: ${message}`);
    });
  });

  it('refuses a ragged row with file, line and the column counts', () => {
    const file = csv('ragged.csv', 'label,p_A,p_B\nA,0.9,0.1\nB,0.3\n');
    expect(() => readPredictions(file)).toThrow(`${file}: line 3: expected 3 columns (as in the header) but found 2`);
  });

  it('refuses duplicate probability columns, naming them', () => {
    const file = csv('dup.csv', 'label,p_A,p_B,p_A,p_D\nA,0.4,0.2,0.3,0.1\n');
    expect(() => readPredictions(file)).toThrow(`${file}: class "A" has two probability columns ("p_A" is column 2, "p_A" column 4)`);
  });

  it('refuses more classes than evaluate takes, before reading the rows (200,000 columns filled the memory)', () => {
    const k = 200_000;
    const header = ['label', ...Array.from({ length: k }, (_, i) => `p_${i}`)].join(',');
    const row = ['0', ...new Array<string>(k).fill('0.000005')].join(',');
    const file = csv('wide.csv', `${header}\n${row}\n${row}\n`);
    expect(() => readPredictions(file)).toThrow(`${file}: ${k} probability columns; evaluate takes at most ${MAX_CLASSES} classes`);
    const r = cli(['--predictions', file]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`cleft: ${file}: ${k} probability columns; evaluate takes at most ${MAX_CLASSES} classes`);
  });

  it('bounds --bootstrap and --bins (a typo of 1e9 would fill the memory)', () => {
    const ok = csv('flags.csv', 'label,p_A,p_B\nA,0.9,0.1\nB,0.3,0.7\n');
    expect(cli(['--predictions', ok, '--bootstrap', '1000000000']).stderr.trim()).toBe(
      'cleft: --bootstrap must be at most 100000, got 1000000000',
    );
    expect(cli(['--predictions', ok, '--bins', '1e9']).stderr.trim()).toBe('cleft: --bins must be at most 1000, got 1000000000');
  });

  it('label errors name the file and line (or tensor row)', () => {
    const file = csv('labels.csv', 'label,p_A,p_B\nA,0.9,0.1\nZ,0.3,0.7\n');
    const p = readPredictions(file);
    expect(() => labelIndices(p.labels!, p.classes)).toThrow(
      `${file}: line 3: label "Z" is neither a class (A, B) nor a class index (0 to 1)`,
    );
    const other = csv('other-labels.csv', 'y\nA\n');
    const r = cli(['--predictions', file, '--labels', other]);
    expect(r.stderr.trim()).toBe(`cleft: ${other}: 1 labels for 2 predictions in ${file}`);
    const st = path.join(dir, 'pred.safetensors');
    writeSafetensors(st, {
      probs: { dtype: 'F32', shape: [2, 2], data: new Float32Array([0.9, 0.1, 0.2, 0.8]) },
      labels: { dtype: 'I64', shape: [2], data: new BigInt64Array([0n, 7n]) },
    });
    const s = readPredictions(st);
    expect(() => labelIndices(s.labels!, s.classes)).toThrow(
      `${st}: "labels" row 2: label "7" is neither a class (0, 1) nor a class index (0 to 1)`,
    );
    const bad = path.join(dir, 'bad.safetensors');
    writeSafetensors(bad, { probs: { dtype: 'F32', shape: [1, 2], data: new Float32Array([1.5, -0.5]) } });
    expect(() => readPredictions(bad)).toThrow(`${bad}: "probs" row 1, column 1: 1.5 is not a probability between 0 and 1`);
  });

  it('says "no such file" or "is a folder" instead of ENOENT / EISDIR', () => {
    const missing = path.join(dir, 'missing.csv');
    expect(() => readPredictions(missing)).toThrow(`cannot read ${missing}: no such file`);
    expect(() => readPredictions(dir)).toThrow(`cannot read ${dir}: it is a folder, not a file`);
    const ok = csv('ok.csv', 'label,p_A,p_B\nA,0.9,0.1\nB,0.3,0.7\n');
    const r = cli(['--predictions', ok, '--labels', path.join(dir, 'nope.safetensors')]);
    expect(r.stderr.trim()).toBe(`cleft: cannot read ${path.join(dir, 'nope.safetensors')}: no such file`);
    expect(r.stderr).not.toMatch(/ENOENT|EISDIR/);
  });

  it('reads a well-formed CSV (quoted cells, BOM, CRLF) into the numbers evaluate() gets', () => {
    const file = csv('good.csv', '\uFEFFid,label,p_A,"p_B"\r\n1,A,0.7,0.3\r\n"2",B,0.25,0.75\r\n3,1,0.5,0.5\r\n');
    const p = readPredictions(file);
    expect(p.classes).toEqual(['A', 'B']);
    expect(Array.from(p.probs.data)).toEqual([0.7, 0.3, 0.25, 0.75, 0.5, 0.5]);
    const y = labelIndices(p.labels!, p.classes);
    expect(Array.from(y)).toEqual([0, 1, 1]);
    expect(evaluate(y, p.probs, p.classes, { bootstrapSamples: 30 })).toEqual(
      evaluate(
        [0, 1, 1],
        [
          [0.7, 0.3],
          [0.25, 0.75],
          [0.5, 0.5],
        ],
        ['A', 'B'],
        { bootstrapSamples: 30 },
      ),
    );
  });
});
