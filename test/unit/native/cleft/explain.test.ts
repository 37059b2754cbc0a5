// patchClassSimilarity: each patch is projected and normalised exactly like the pooled image
// feature, so a patch token equal to the CLS token scores the zero-shot cosine of the image; the
// CLS and register tokens are skipped and the grid is row-major.
import { describe, expect, it } from 'vitest';
import { patchClassSimilarity } from '../../../../src/native/cleft/explain';
import { l2NormalizeRows } from '../../../../src/native/cleft/math';
import { imageEmbeddingsFromFeatures } from '../../../../src/native/cleft/zero-shot';
import { createHeads } from '../../../../src/native/models/heads';
import { seededRandom } from '../../../../src/native/cleft/random';

describe('patchClassSimilarity', () => {
  const d = 12;
  const p = 6;
  const heads = createHeads(10, d, p, 5);
  const rnd = seededRandom(9);
  const grid = [3, 4] as const;
  const registers = 2;
  const tokens = 1 + registers + grid[0] * grid[1];
  const hidden = Float32Array.from({ length: tokens * d }, () => rnd() * 2 - 1);
  const classes = l2NormalizeRows(
    Float32Array.from({ length: 3 * p }, () => rnd() * 2 - 1),
    p,
  );
  // Patch (row 1, col 2) is a copy of the CLS token.
  const target = 1 * grid[1] + 2;
  hidden.copyWithin((1 + registers + target) * d, 0, d);

  it('scores a patch equal to CLS with the image-level zero-shot cosine, skipping CLS and registers', () => {
    const r = patchClassSimilarity({ lastHidden: hidden, tokens, grid, heads, classEmbeddings: classes });
    expect(r).toMatchObject({ rows: 3, cols: 4, classes: 3 });
    const image = imageEmbeddingsFromFeatures(heads, hidden.slice(0, d));
    for (let c = 0; c < 3; c++) {
      let cos = 0;
      for (let k = 0; k < p; k++) cos += image[k]! * classes[c * p + k]!;
      expect(r.maps[c * 12 + target]).toBeCloseTo(cos, 5);
    }
    for (const v of r.maps) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('refuses token counts that cannot hold the grid', () => {
    expect(() =>
      patchClassSimilarity({ lastHidden: hidden.subarray(0, 12 * d), tokens: 12, grid, heads, classEmbeddings: classes }),
    ).toThrow(/cannot hold CLS/);
    expect(() => patchClassSimilarity({ lastHidden: hidden, tokens: tokens + 1, grid, heads, classEmbeddings: classes })).toThrow(
      /expected/,
    );
  });
});
