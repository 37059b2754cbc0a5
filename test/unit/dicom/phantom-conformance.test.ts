// Every phantom the writer makes is a conformant Digital Mammography X-Ray Image (For Presentation)
// for an independent validator: dciodvfy (dicom3tools) reports no error in any transfer syntax the
// writer offers, nor for MONOCHROME1; its only warnings are the ones listed (and reasoned) below.
// The coded views and the breast are checked as dcmtk's dcmdump reads them.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAMMO_VIEW_CODES } from '../../../src/common/imaging/mammo-view';
import { PHANTOM_SYNTAXES, type PhantomSyntax, generatePhantoms } from '../../../src/main/dicom/phantom/index';
import { dciodvfy, requireDciodvfy, validatableCopy } from '../../helpers/dciodvfy';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

requireDciodvfy();
afterAll(removeTmpDirs);

// ViewPosition CC / MLO is what mammography units write and what readers (ours included) look for
// first; the DX Positioning module's defined terms (AP, PA, LL, ...) have no mammography view.
const ACCEPTED_WARNINGS = [/^Warning - Unrecognized defined term <(CC|MLO)> for value 1 of attribute <View Position>$/];

const SYNTAXES = Object.keys(PHANTOM_SYNTAXES) as PhantomSyntax[];

describe('phantom conformance (dciodvfy)', () => {
  it.each([...SYNTAXES.map((s) => ({ syntaxes: [s], monochrome1: false })), { syntaxes: ['rle' as const], monochrome1: true }])(
    '$syntaxes.0 (MONOCHROME1 $monochrome1): no errors, only the accepted warnings',
    async ({ syntaxes, monochrome1 }) => {
      const out = tmpDir('cleft-conform-');
      const [exam] = await generatePhantoms({ outDir: out, exams: 1, seed: 11, syntaxes, monochrome1 });
      expect(exam!.images).toHaveLength(4);
      for (const im of exam!.images) {
        expect(im.transferSyntaxUID).toBe(PHANTOM_SYNTAXES[syntaxes[0]!]);
        const report = dciodvfy(validatableCopy(im.file, out));
        expect(report.iod, report.output).toBe('MammographyImageForPresentation');
        expect(report.errors, `${im.file}\n${report.output}`).toEqual([]);
        expect(
          report.warnings.filter((w) => !ACCEPTED_WARNINGS.some((a) => a.test(w))),
          report.output,
        ).toEqual([]);
      }
    },
    120_000,
  );

  it('codes each view (CID 4014, SCT) and the breast (CID 4013), with the IOD values that follow from the image', async () => {
    const out = tmpDir('cleft-conform-');
    for (const monochrome1 of [false, true]) {
      const [exam] = await generatePhantoms({
        outDir: path.join(out, String(monochrome1)),
        exams: 1,
        seed: 3,
        syntaxes: ['explicit-le'],
        monochrome1,
      });
      for (const im of exam!.images) {
        const dump = execFileSync(
          'dcmdump',
          [
            '-q',
            '+p',
            ...['0008,0100', '0008,0102', '0008,0104', '2050,0020', '0028,1041', '0028,2110'].flatMap((t) => ['+P', t]),
            im.file,
          ],
          {
            encoding: 'utf8',
          },
        );
        const view = MAMMO_VIEW_CODES[im.view.endsWith('MLO') ? 'MLO' : 'CC'];
        expect(dump).toContain(`(0054,0220).(0008,0100) SH [${view.sct}]`);
        expect(dump).toContain(`(0054,0220).(0008,0102) SH [SCT]`);
        expect(dump).toContain(`(0054,0220).(0008,0104) LO [${view.meaning}]`);
        expect(dump).toContain('(0008,2218).(0008,0100) SH [76752008]');
        expect(dump).toContain('(0008,2218).(0008,0104) LO [Breast]');
        expect(/\(2050,0020\) CS \[(\w+)\]/.exec(dump)![1]).toBe(monochrome1 ? 'INVERSE' : 'IDENTITY');
        expect(/\(0028,1041\) SS (-?\d+)/.exec(dump)![1]).toBe(monochrome1 ? '1' : '-1');
        expect(dump).toContain('(0028,2110) CS [00]');
      }
    }
  }, 60_000);
});
