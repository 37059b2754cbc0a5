// Phantom generator: deterministic 4-view synthetic mammography exams (RCC, LCC, RMLO, LMLO) as
// valid MG FOR PRESENTATION DICOM files, with a free-text report and ground-truth labels per exam.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writingToAsync } from '../../../native/io/disk-full';
import { SOP_CLASS } from '../header';
import { uidFromParts as uid } from '../uids';
import { type PhantomSyntax, PHANTOM_SYNTAXES, encodeFrame } from './encode';
import {
  type BreastSpec,
  type CalcCluster,
  DENSITY_TEXT,
  type Density,
  type Mass,
  type Rng,
  type Side,
  type View,
  mulberry32,
  renderBreast,
} from './synth';
import { mammographyModules } from './mammography-modules';
import { type Element, writeDicom } from './writer';

export { PHANTOM_SYNTAXES, type PhantomSyntax } from './encode';
export { renderBreast, mulberry32, DENSITY_FRACTION, type Density } from './synth';
export { writeDicom, encodeDataset, type Element as DicomElement } from './writer';

export const PHANTOM_SIZES = {
  small: { rows: 512, columns: 416, pixelSpacing: 0.56 }, // ~ full field at 1/8 resolution
  full: { rows: 4096, columns: 3328, pixelSpacing: 0.07 }, // typical FFDM detector
} as const;
export type PhantomSize = keyof typeof PHANTOM_SIZES;

export interface PhantomOptions {
  outDir: string;
  exams?: number;
  seed?: number;
  size?: PhantomSize | { rows: number; columns: number; pixelSpacing: number };
  /** Syntaxes to cycle through, one per exam (default: all). */
  syntaxes?: PhantomSyntax[];
  monochrome1?: boolean;
  /** Which spacing tags the images carry (default both, equal: a detector that applied no correction). */
  spacingTags?: readonly ('PixelSpacing' | 'ImagerPixelSpacing')[];
}

export interface PhantomImage {
  file: string;
  view: `${Side}${View}`;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  glandularFraction: number;
}

export interface PhantomExam {
  dir: string;
  patientID: string;
  studyInstanceUID: string;
  accessionNumber: string;
  density: Density;
  findings: { side: Side; kind: 'mass' | 'calcifications'; description: string }[];
  report: string;
  images: PhantomImage[];
}

const VIEWS: [Side, View][] = [
  ['R', 'CC'],
  ['L', 'CC'],
  ['R', 'MLO'],
  ['L', 'MLO'],
];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)]!;
}

function planExam(rng: Rng): { density: Density; masses: Map<Side, Mass[]>; calcs: Map<Side, CalcCluster[]> } {
  const density = pick(rng, ['A', 'B', 'C', 'D'] as const);
  const masses = new Map<Side, Mass[]>([
    ['L', []],
    ['R', []],
  ]);
  const calcs = new Map<Side, CalcCluster[]>([
    ['L', []],
    ['R', []],
  ]);
  if (rng() < 0.4)
    masses
      .get(pick(rng, ['L', 'R'] as const))!
      .push({ depth: 0.3 + 0.4 * rng(), height: 0.25 + 0.5 * rng(), radiusMm: 5 + 10 * rng(), spiculated: rng() < 0.5 });
  if (rng() < 0.3)
    calcs
      .get(pick(rng, ['L', 'R'] as const))!
      .push({ depth: 0.3 + 0.4 * rng(), height: 0.25 + 0.5 * rng(), count: 5 + Math.floor(10 * rng()) });
  return { density, masses, calcs };
}

function pixelModule(rows: number, columns: number, mono1: boolean): Element[] {
  return [
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: mono1 ? 'MONOCHROME1' : 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [rows] },
    { tag: 0x00280011, vr: 'US', value: [columns] },
    { tag: 0x00280100, vr: 'US', value: [16] },
    { tag: 0x00280101, vr: 'US', value: [12] },
    { tag: 0x00280102, vr: 'US', value: [11] },
    { tag: 0x00280103, vr: 'US', value: [0] },
  ];
}

export async function generateExam(index: number, opts: PhantomOptions): Promise<PhantomExam> {
  const seed = opts.seed ?? 1;
  const size = typeof opts.size === 'object' ? opts.size : PHANTOM_SIZES[opts.size ?? 'small'];
  const tags = opts.spacingTags ?? ['PixelSpacing', 'ImagerPixelSpacing'];
  const syntaxes = opts.syntaxes?.length ? opts.syntaxes : (Object.keys(PHANTOM_SYNTAXES) as PhantomSyntax[]);
  const syntax = syntaxes[index % syntaxes.length]!;
  const tsUid = PHANTOM_SYNTAXES[syntax];
  // Hash seed and index: nearby mulberry32 seeds give correlated first draws.
  const rng = mulberry32(createHash('sha256').update(`${seed}|${index}`).digest().readUInt32LE(0));
  const plan = planExam(rng);
  const patientID = `PHANTOM${String(seed).padStart(3, '0')}-${String(index + 1).padStart(4, '0')}`;
  const studyUID = uid('study', seed, index);
  const seriesUID = uid('series', seed, index);
  const accession = `A${(seed * 100000 + index).toString().padStart(8, '0')}`;
  // Study dates spread over 2020-2024, deterministic.
  const day = new Date(Date.UTC(2020, 0, 1) + Math.floor(rng() * 1800) * 86400000);
  const studyDate = day.toISOString().slice(0, 10).replace(/-/g, '');
  const dir = path.join(opts.outDir, patientID);
  await fs.mkdir(dir, { recursive: true });
  const images: PhantomImage[] = [];
  for (const [k, [side, view]] of VIEWS.entries()) {
    const spec: BreastSpec = {
      rows: size.rows,
      columns: size.columns,
      side,
      view,
      density: plan.density,
      masses: plan.masses.get(side)!,
      calcifications: plan.calcs.get(side)!,
      pixelSpacing: size.pixelSpacing,
    };
    const { pixels, glandularFraction } = renderBreast(spec, rng);
    if (opts.monochrome1) for (let i = 0; i < pixels.length; i++) pixels[i] = 4095 - pixels[i]!;
    const sopUID = uid('instance', seed, index, k);
    const ds: Element[] = [
      { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
      { tag: 0x00080008, vr: 'CS', value: 'ORIGINAL\\PRIMARY' },
      { tag: 0x00080016, vr: 'UI', value: SOP_CLASS.MgForPresentation },
      { tag: 0x00080018, vr: 'UI', value: sopUID },
      { tag: 0x00080020, vr: 'DA', value: studyDate },
      { tag: 0x00080030, vr: 'TM', value: '093000' },
      { tag: 0x00080050, vr: 'SH', value: accession },
      { tag: 0x00080060, vr: 'CS', value: 'MG' },
      { tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' },
      { tag: 0x00080070, vr: 'LO', value: 'CLEFT Studio' },
      { tag: 0x00081030, vr: 'LO', value: 'Synthetic screening mammogram' },
      { tag: 0x00081090, vr: 'LO', value: 'Phantom generator' },
      { tag: 0x00100010, vr: 'PN', value: `Phantom^${patientID}` },
      { tag: 0x00100020, vr: 'LO', value: patientID },
      { tag: 0x00100040, vr: 'CS', value: 'F' },
      { tag: 0x00180015, vr: 'CS', value: 'BREAST' },
      ...(tags.includes('ImagerPixelSpacing')
        ? [{ tag: 0x00181164, vr: 'DS' as const, value: `${size.pixelSpacing}\\${size.pixelSpacing}` }]
        : []),
      { tag: 0x00185101, vr: 'CS', value: view },
      { tag: 0x0020000d, vr: 'UI', value: studyUID },
      { tag: 0x0020000e, vr: 'UI', value: seriesUID },
      { tag: 0x00200010, vr: 'SH', value: String(index + 1) },
      { tag: 0x00200011, vr: 'IS', value: '1' },
      { tag: 0x00200013, vr: 'IS', value: String(k + 1) },
      // Column direction first: right breast rows run towards posterior (chest wall on the right).
      { tag: 0x00200020, vr: 'CS', value: side === 'R' ? (view === 'CC' ? 'P\\L' : 'P\\F') : view === 'CC' ? 'A\\R' : 'A\\F' },
      { tag: 0x00200062, vr: 'CS', value: side },
      ...(tags.includes('PixelSpacing')
        ? [{ tag: 0x00280030, vr: 'DS' as const, value: `${size.pixelSpacing}\\${size.pixelSpacing}` }]
        : []),
      ...pixelModule(size.rows, size.columns, Boolean(opts.monochrome1)),
      { tag: 0x00281050, vr: 'DS', value: '2000\\2400' },
      { tag: 0x00281051, vr: 'DS', value: '3000\\2000' },
      { tag: 0x00281055, vr: 'LO', value: 'NORMAL\\HARDER' },
      { tag: 0x00281056, vr: 'CS', value: 'SIGMOID' },
      { tag: 0x00281300, vr: 'CS', value: 'NO' },
      ...mammographyModules({ view, monochrome1: Boolean(opts.monochrome1), date: studyDate, time: '093000' }),
    ];
    const pixelsOpt =
      syntax === 'explicit-le' || syntax === 'deflated'
        ? { native: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), vr: 'OW' as const }
        : { frames: [await encodeFrame(syntax, pixels, size.columns, size.rows, 12)] };
    const bytes = writeDicom(ds, {
      transferSyntaxUID: tsUid,
      sopClassUID: SOP_CLASS.MgForPresentation,
      sopInstanceUID: sopUID,
      pixels: pixelsOpt,
    });
    const file = path.join(dir, `${side}${view}.dcm`);
    await writingToAsync(file, () => fs.writeFile(file, bytes));
    images.push({ file, view: `${side}${view}`, sopInstanceUID: sopUID, transferSyntaxUID: tsUid, glandularFraction });
  }
  const findings: PhantomExam['findings'] = [];
  for (const side of ['R', 'L'] as const) {
    for (const m of plan.masses.get(side)!)
      findings.push({
        side,
        kind: 'mass',
        description: `${m.spiculated ? 'spiculated' : 'circumscribed oval'} mass, ${Math.round(2 * m.radiusMm)} mm`,
      });
    for (const c of plan.calcs.get(side)!)
      findings.push({ side, kind: 'calcifications', description: `grouped fine pleomorphic calcifications (${c.count})` });
  }
  const sideName = (s: Side): string => (s === 'R' ? 'right' : 'left');
  const report = [
    `BILATERAL SCREENING MAMMOGRAM (synthetic phantom), ${studyDate}`,
    `Views: RCC, LCC, RMLO, LMLO.`,
    `Breast composition: ACR ${plan.density}, the breasts are ${DENSITY_TEXT[plan.density]}.`,
    findings.length
      ? `Findings: ${findings.map((f) => `${sideName(f.side)} breast: ${f.description}`).join('; ')}.`
      : 'Findings: no mass, suspicious calcification or architectural distortion.',
    `Impression: ${findings.length ? 'BI-RADS 4, suspicious abnormality; biopsy should be considered.' : 'BI-RADS 1, negative.'}`,
    '',
  ].join('\n');
  await writingToAsync(path.join(dir, 'report.txt'), () => fs.writeFile(path.join(dir, 'report.txt'), report));
  const exam: PhantomExam = {
    dir,
    patientID,
    studyInstanceUID: studyUID,
    accessionNumber: accession,
    density: plan.density,
    findings,
    report,
    images,
  };
  const labelsFile = path.join(dir, 'labels.json');
  const labels = JSON.stringify({ ...exam, dir: undefined, images: images.map((i) => ({ ...i, file: path.basename(i.file) })) }, null, 2);
  await writingToAsync(labelsFile, () => fs.writeFile(labelsFile, labels));
  return exam;
}

/** Writes `exams` exams under outDir; returns what was written (also as labels.json per exam). */
export async function generatePhantoms(opts: PhantomOptions): Promise<PhantomExam[]> {
  const out: PhantomExam[] = [];
  for (let i = 0; i < (opts.exams ?? 4); i++) out.push(await generateExam(i, opts));
  return out;
}
