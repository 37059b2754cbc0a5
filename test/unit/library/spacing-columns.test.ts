// The library index keeps PixelSpacing and ImagerPixelSpacing apart (migration 10): real phantom
// exams written with each tag, with both and with neither, imported through the import job; the
// columns hold each tag as written, never one copied into the other. (The viewer's ruler reads
// both tags from the file itself and says which it used: test/unit/dicom/spacing-tags.test.ts.)
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { generateExam } from '../../../src/main/dicom/phantom';
import { importExams, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

let b: Backend | undefined;
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('spacing columns of the library index', () => {
  it('stores PixelSpacing and ImagerPixelSpacing each as written', { timeout: 120_000 }, async () => {
    const source = tmpDir('cleft-spacing-');
    const variants = [['PixelSpacing', 'ImagerPixelSpacing'], ['PixelSpacing'], ['ImagerPixelSpacing'], []] as const;
    const uids: string[] = [];
    for (const [i, spacingTags] of variants.entries()) {
      const exam = await generateExam(i, { outDir: path.join(source, String(i)), seed: 3, syntaxes: ['explicit-le'], spacingTags });
      uids.push(exam.studyInstanceUID);
    }
    b = testBackend();
    await importExams(b, source);
    const rows = b.db
      .prepare(
        `SELECT s.study_uid AS uid, i.pixel_spacing AS ps, i.imager_pixel_spacing AS ips
         FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref`,
      )
      .all() as { uid: string; ps: string | null; ips: string | null }[];
    const of = (uid: string) => rows.filter((r) => r.uid === uid).map((r) => [r.ps, r.ips]);
    expect(of(uids[0]!)).toEqual(Array(4).fill(['0.56\\0.56', '0.56\\0.56']));
    expect(of(uids[1]!)).toEqual(Array(4).fill(['0.56\\0.56', null]));
    expect(of(uids[2]!)).toEqual(Array(4).fill([null, '0.56\\0.56']));
    expect(of(uids[3]!)).toEqual(Array(4).fill([null, null]));
  });
});
