// The breast side and the view of a mammogram from what its header carries: the plain attributes
// first, else the codes (FrameLaterality, laterality or sided-breast codes in the Anatomic Region
// Sequence, the View Code Sequence of CID 4014 in SNOMED CT or the older SNOMED-RT).
import { describe, expect, it } from 'vitest';
import {
  type CodedConcept,
  type MammoViewFacts,
  MAMMO_VIEW_CODES,
  breastSideOf,
  mammoViewFromCode,
  mammoViewOf,
} from '../../../src/common/imaging/mammo-view';

const code = (value: string, scheme: string, meaning: string): CodedConcept => ({ value, scheme, meaning });

describe('breast side and view from the header', () => {
  const table: { name: string; facts: MammoViewFacts; side: string | null; view: string | null }[] = [
    { name: 'plain attributes', facts: { imageLaterality: 'L', viewPosition: 'MLO' }, side: 'L', view: 'MLO' },
    {
      name: 'plain attributes win over contradicting codes',
      facts: {
        imageLaterality: 'R',
        viewPosition: 'CC',
        anatomicCodes: [code('80248007', 'SCT', 'Left breast')],
        viewCodes: [code('399368009', 'SCT', 'medio-lateral oblique')],
      },
      side: 'R',
      view: 'CC',
    },
    { name: 'series Laterality', facts: { laterality: ' r ' }, side: 'R', view: null },
    { name: 'FrameLaterality (enhanced objects)', facts: { frameLaterality: 'L' }, side: 'L', view: null },
    {
      name: 'SCT codes: laterality modifier and view code',
      facts: {
        anatomicCodes: [code('76752008', 'SCT', 'Breast'), code('24028007', 'SCT', 'Right')],
        viewCodes: [code('399162004', 'SCT', 'cranio-caudal')],
      },
      side: 'R',
      view: 'CC',
    },
    {
      name: 'SNOMED-RT codes of older files (SRT, SNM3)',
      facts: { anatomicCodes: [code('T-04030', 'SRT', 'Left breast')], viewCodes: [code('R-10226', 'SNM3', 'medio-lateral oblique')] },
      side: 'L',
      view: 'MLO',
    },
    {
      name: 'an unknown code read by its meaning',
      facts: { viewCodes: [code('X1', '99LOCAL', 'Medio-Lateral Oblique')] },
      side: null,
      view: 'MLO',
    },
    { name: 'substitute views', facts: { viewCodes: [code('399192008', 'SCT', 'x')] }, side: null, view: 'XCCL' },
    { name: 'a code that is no view', facts: { viewCodes: [code('76752008', 'SCT', 'Breast')] }, side: null, view: null },
    { name: 'nothing', facts: {}, side: null, view: null },
    { name: 'empty plain values fall through', facts: { imageLaterality: ' ', viewPosition: '', laterality: 'L' }, side: 'L', view: null },
  ];
  it.each(table)('$name', ({ facts, side, view }) => {
    expect(breastSideOf(facts)).toBe(side);
    expect(mammoViewOf(facts)).toBe(view);
  });

  it('knows every CID 4014 view by its SCT code, its SRT code and its meaning', () => {
    for (const [view, c] of Object.entries(MAMMO_VIEW_CODES)) {
      expect(mammoViewFromCode(code(c.sct, 'SCT', ''))).toBe(view);
      expect(mammoViewFromCode(code(c.srt, 'SRT', ''))).toBe(view);
      expect(mammoViewFromCode(code('', '', c.meaning.toUpperCase()))).toBe(view);
    }
  });
});
