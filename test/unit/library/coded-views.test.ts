// A 4-view exam whose files have no ViewPosition and no ImageLaterality, only codes (as some
// vendors write them), written by dcmtk's dump2dcm: imported, it hangs RCC | LCC over RMLO | LMLO
// in the viewer, and the model pipeline reads the same breast sides (and so chest walls).
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDicomFile } from '../../../src/main/dicom/decode';
import { readDicomHeader } from '../../../src/main/dicom/header';
import { prepareImage } from '../../../src/main/dicom/pipeline/prepare';
import { PRESETS } from '../../../src/main/dicom/pipeline/spec';
import { assignHanging } from '../../../src/renderer/src/lib/viewer/hanging';
import { callApi } from '../../helpers/api';
import { requireDump2dcm, writeMgInstance } from '../../helpers/dcmtk';
import { importExams, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

requireDump2dcm();
afterAll(removeTmpDirs);

/** dump2dcm lines of a sequence of code items (each item: value, scheme, meaning, and lines nested in it). */
function codeSequence(tag: string, items: [string, string, string, ...string[]][], indent = ''): string[] {
  return [
    `${indent}(${tag}) SQ (Sequence with undefined length #=${items.length})`,
    ...items.flatMap(([value, scheme, meaning, ...nested]) => [
      `${indent}  (fffe,e000) na (Item with undefined length)`,
      `${indent}    (0008,0100) SH [${value}]`,
      `${indent}    (0008,0102) SH [${scheme}]`,
      `${indent}    (0008,0104) LO [${meaning}]`,
      ...nested.map((l) => `${indent}    ${l}`),
      `${indent}  (fffe,e00d) na (ItemDelimitationItem)`,
    ]),
    `${indent}(fffe,e0dd) na (SequenceDelimitationItem)`,
  ];
}

const STUDY = '1.2.826.0.1.3680043.9.7777.900';

// Each image says its side and view in a different coded way; none has (0020,0062) or (0018,5101).
const IMAGES: { name: string; side: 'R' | 'L'; view: 'CC' | 'MLO'; extra: string[] }[] = [
  {
    name: 'RCC', // SCT view code, laterality as an Anatomic Region Modifier (CID 244)
    side: 'R',
    view: 'CC',
    extra: [
      ...codeSequence('0054,0220', [['399162004', 'SCT', 'cranio-caudal']]),
      ...codeSequence('0008,2218', [['76752008', 'SCT', 'Breast', ...codeSequence('0008,2220', [['24028007', 'SCT', 'Right']])]]),
    ],
  },
  {
    name: 'LCC', // SNOMED-RT view code (pre-2019 files), a sided breast as the region
    side: 'L',
    view: 'CC',
    extra: [
      ...codeSequence('0054,0220', [['R-10242', 'SRT', 'cranio-caudal']]),
      ...codeSequence('0008,2218', [['T-04030', 'SRT', 'Left breast']]),
    ],
  },
  {
    name: 'RMLO', // series-level Laterality only
    side: 'R',
    view: 'MLO',
    extra: ['(0020,0060) CS R', ...codeSequence('0054,0220', [['399368009', 'SCT', 'medio-lateral oblique']])],
  },
  {
    name: 'LMLO', // FrameLaterality in the shared Frame Anatomy functional group
    side: 'L',
    view: 'MLO',
    extra: [
      ...codeSequence('0054,0220', [['399368009', 'SCT', 'medio-lateral oblique']]),
      '(5200,9229) SQ (Sequence with undefined length #=1)',
      '  (fffe,e000) na (Item with undefined length)',
      '    (0020,9071) SQ (Sequence with undefined length #=1)',
      '      (fffe,e000) na (Item with undefined length)',
      '        (0020,9072) CS L',
      '      (fffe,e00d) na (ItemDelimitationItem)',
      '    (fffe,e0dd) na (SequenceDelimitationItem)',
      '  (fffe,e00d) na (ItemDelimitationItem)',
      '(fffe,e0dd) na (SequenceDelimitationItem)',
    ],
  },
];

describe('files with coded views and laterality only', () => {
  const dir = tmpDir('cleft-coded-');
  const files = IMAGES.map((im, i) => {
    const file = path.join(dir, 'exam', im.name);
    writeMgInstance(file, {
      sopInstanceUid: `${STUDY}.1.${i + 1}`,
      studyUid: STUDY,
      seriesUid: `${STUDY}.1`,
      patientId: 'CODED1',
      accession: 'CODED1',
      laterality: null,
      view: null,
      rows: 16,
      columns: 12,
      extra: im.extra,
    });
    return file;
  });

  it('are read with their side and view by the header', async () => {
    for (const [i, im] of IMAGES.entries()) {
      const h = await readDicomHeader(files[i]!);
      expect(h.imageLaterality).toBeNull();
      expect(h.viewPosition).toBeNull();
      expect({ side: h.breastSide, view: h.mammoView }).toEqual({ side: im.side, view: im.view });
    }
  });

  it('are hung RCC | LCC over RMLO | LMLO once imported, and the model pipeline reads the same sides', async () => {
    const b = testBackend();
    try {
      const [study] = await importExams(b, dir);
      const { instances } = await callApi(b, 'library.study', { id: study!.id });
      const hanging = assignHanging(instances);
      for (const [i, im] of IMAGES.entries()) {
        const sop = `${STUDY}.1.${i + 1}`;
        expect(hanging[`${im.side}${im.view}` as keyof typeof hanging]?.sopInstanceUid, im.name).toBe(sop);
        const prepared = await prepareImage(await openDicomFile(files[i]!), { ...PRESETS.cleft, padLongSide: 32, size: 28 });
        expect(prepared.breastSide).toBe(im.side);
        expect(prepared.viewPosition).toBe(im.view);
        expect(prepared.chestWallSource).toBe('laterality');
        expect(prepared.chestWall).toBe(im.side === 'R' ? 'right' : 'left');
      }
    } finally {
      await b.close();
    }
  }, 60_000);
});
