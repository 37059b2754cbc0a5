// Which breast and which view a mammogram shows, read from whatever the file carries: the plain
// attributes first (ImageLaterality, Laterality, ViewPosition), else the coded ones that some
// vendors write instead (FrameLaterality of enhanced objects, laterality or breast codes in the
// Anatomic Region Sequence, the View Code Sequence of PS3.16 CID 4014). One definition behind the
// index (and so the viewer's hanging and the model's breast side) and the phantom writer's codes.
// Pure functions over plain values: no DOM, no Node.

/** A code sequence item: (0008,0100) CodeValue, (0008,0102) CodingSchemeDesignator, (0008,0104) CodeMeaning. */
export interface CodedConcept {
  value: string | null;
  scheme: string | null;
  meaning: string | null;
}

/** The views of CID 4014 "View for Mammography", by their usual ViewPosition abbreviation. */
export type MammoView = 'CC' | 'MLO' | 'ML' | 'LM' | 'LMO' | 'XCCL' | 'XCCM' | 'FB' | 'SIO' | 'ISO';

/**
 * CID 4014: the SNOMED CT code written today (SCT) and the SNOMED-RT code (SRT) that files written
 * before DICOM moved to SNOMED CT (2019) carry, with the code meaning of the current standard.
 */
export const MAMMO_VIEW_CODES: Readonly<Record<MammoView, { sct: string; srt: string; meaning: string }>> = {
  CC: { sct: '399162004', srt: 'R-10242', meaning: 'cranio-caudal' },
  MLO: { sct: '399368009', srt: 'R-10226', meaning: 'medio-lateral oblique' },
  ML: { sct: '399260004', srt: 'R-10224', meaning: 'medio-lateral' },
  LM: { sct: '399352003', srt: 'R-10228', meaning: 'latero-medial' },
  LMO: { sct: '399099002', srt: 'R-10230', meaning: 'latero-medial oblique' },
  XCCL: { sct: '399192008', srt: 'R-1024A', meaning: 'cranio-caudal exaggerated laterally' },
  XCCM: { sct: '399101009', srt: 'R-1024B', meaning: 'cranio-caudal exaggerated medially' },
  FB: { sct: '399196006', srt: 'R-10244', meaning: 'caudo-cranial (from below)' },
  SIO: { sct: '399188001', srt: 'R-102D0', meaning: 'superolateral to inferomedial oblique' },
  ISO: { sct: '441555000', srt: 'R-40AAA', meaning: 'inferomedial to superolateral oblique' },
};

/** Views that can stand in for the two standard ones when a study lacks them, best first (the hanging's fallbacks). */
export const MAMMO_VIEW_SUBSTITUTES: Readonly<Record<'CC' | 'MLO', readonly MammoView[]>> = {
  CC: ['CC', 'XCCL', 'XCCM', 'FB'],
  MLO: ['MLO', 'ML', 'LMO', 'LM', 'SIO'],
};

/** CID 4013 "Anatomic Region for Mammography": what a mammogram's Anatomic Region Sequence holds. */
export const BREAST_REGION_CODE = { sct: '76752008', srt: 'T-04000', meaning: 'Breast' } as const;

/**
 * Laterality as codes: CID 244 (Right, Left, Right and left), as an Anatomic Region Modifier, and
 * the sided breast concepts some files put in the Anatomic Region Sequence itself; SCT and SRT.
 */
const LATERALITY_CODES: Readonly<Record<string, 'R' | 'L' | 'B'>> = {
  'SCT:24028007': 'R',
  'SCT:7771000': 'L',
  'SCT:51440002': 'B',
  'SRT:G-A100': 'R',
  'SRT:G-A101': 'L',
  'SRT:G-A102': 'B',
  'SCT:73056007': 'R', // right breast
  'SCT:80248007': 'L', // left breast
  'SRT:T-04020': 'R',
  'SRT:T-04030': 'L',
};

/** SNOMED's scheme has three spellings in the wild (SCT, SNM3 for SNOMED-RT era files, SRT). */
function schemeKey(scheme: string | null): string {
  const s = (scheme ?? '').trim().toUpperCase();
  return s === 'SNM3' ? 'SRT' : s;
}

function meaningKey(meaning: string | null): string {
  return (meaning ?? '')
    .toLowerCase()
    .replace(/[^a-z]+/g, ' ')
    .trim();
}

const VIEW_BY_CODE = new Map<string, MammoView>();
const VIEW_BY_MEANING = new Map<string, MammoView>();
for (const [view, c] of Object.entries(MAMMO_VIEW_CODES) as [MammoView, (typeof MAMMO_VIEW_CODES)[MammoView]][]) {
  VIEW_BY_CODE.set(`SCT:${c.sct}`, view);
  VIEW_BY_CODE.set(`SRT:${c.srt}`, view);
  VIEW_BY_MEANING.set(meaningKey(c.meaning), view);
}
// Older editions' meanings of the same concepts.
VIEW_BY_MEANING.set(meaningKey('caudo-cranial'), 'FB');
VIEW_BY_MEANING.set(meaningKey('lateral-medial'), 'LM');
VIEW_BY_MEANING.set(meaningKey('medial-lateral'), 'ML');

/** The view a View Code Sequence item names: by code (SCT or SRT), else by its meaning; null when it is none of CID 4014. */
export function mammoViewFromCode(code: CodedConcept | null | undefined): MammoView | null {
  if (!code) return null;
  const byCode = VIEW_BY_CODE.get(`${schemeKey(code.scheme)}:${(code.value ?? '').trim().toUpperCase()}`);
  return byCode ?? VIEW_BY_MEANING.get(meaningKey(code.meaning)) ?? null;
}

/** The laterality a code names (CID 244 or a sided breast), else null. */
export function lateralityFromCode(code: CodedConcept | null | undefined): 'R' | 'L' | 'B' | null {
  if (!code) return null;
  return LATERALITY_CODES[`${schemeKey(code.scheme)}:${(code.value ?? '').trim().toUpperCase()}`] ?? null;
}

/** What a header offers towards the breast side and the view; absent values are null or empty. */
export interface MammoViewFacts {
  imageLaterality?: string | null;
  /** Series-level Laterality (0020,0060). */
  laterality?: string | null;
  /** FrameLaterality (0020,9072) of the Frame Anatomy functional group (enhanced and tomosynthesis objects). */
  frameLaterality?: string | null;
  /** Anatomic Region Sequence items and their Anatomic Region Modifier items. */
  anatomicCodes?: readonly CodedConcept[];
  viewPosition?: string | null;
  /** View Code Sequence items (the first one is the view). */
  viewCodes?: readonly CodedConcept[];
}

function plainSide(v: string | null | undefined): string | null {
  const s = (v ?? '').trim().toUpperCase();
  return s ? s : null;
}

/** ImageLaterality, else Laterality, else FrameLaterality, else a laterality code: 'L' | 'R' | 'B' | 'U' (as written) or null. */
export function breastSideOf(f: MammoViewFacts): string | null {
  const plain = plainSide(f.imageLaterality) ?? plainSide(f.laterality) ?? plainSide(f.frameLaterality);
  if (plain) return plain;
  for (const c of f.anatomicCodes ?? []) {
    const side = lateralityFromCode(c);
    if (side) return side;
  }
  return null;
}

/** ViewPosition as written (trimmed, upper case), else the view of the View Code Sequence's code; null when neither tells. */
export function mammoViewOf(f: MammoViewFacts): string | null {
  const plain = (f.viewPosition ?? '').trim().toUpperCase();
  if (plain) return plain;
  return mammoViewFromCode(f.viewCodes?.[0]);
}
