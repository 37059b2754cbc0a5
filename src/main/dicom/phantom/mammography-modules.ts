// What the Digital Mammography X-Ray Image IOD (PS3.3 A.26) asks of a For Presentation image beyond
// the patient/study/series basics and the pixels: the DX Image, DX Detector, DX Anatomy Imaged,
// Mammography Image and Acquisition Context modules, with the coded views of CID 4014 and the
// breast of CID 4013. Kept apart from the generator so `dciodvfy` conformance is one list to read.
import { BREAST_REGION_CODE, MAMMO_VIEW_CODES, type MammoView } from '../../../common/imaging/mammo-view';
import type { Element } from './writer';

function codeItem(value: string, scheme: string, meaning: string): Element[] {
  return [
    { tag: 0x00080100, vr: 'SH', value },
    { tag: 0x00080102, vr: 'SH', value: scheme },
    { tag: 0x00080104, vr: 'LO', value: meaning },
  ];
}

export interface MammographyFacts {
  view: MammoView;
  monochrome1: boolean;
  /** ContentDate: the acquisition is the study's. */
  date: string;
  time: string;
}

export function mammographyModules(f: MammographyFacts): Element[] {
  const view = MAMMO_VIEW_CODES[f.view];
  return [
    { tag: 0x00080023, vr: 'DA', value: f.date }, // ContentDate
    { tag: 0x00080033, vr: 'TM', value: f.time }, // ContentTime
    // Type 2 facts a phantom does not have: present and empty, as PS3.5 7.4 allows for "unknown".
    { tag: 0x00080090, vr: 'PN', value: '' }, // ReferringPhysicianName
    { tag: 0x00100030, vr: 'DA', value: '' }, // PatientBirthDate
    { tag: 0x00082218, vr: 'SQ', value: [codeItem(BREAST_REGION_CODE.sct, 'SCT', BREAST_REGION_CODE.meaning)] }, // AnatomicRegionSequence
    { tag: 0x00181508, vr: 'CS', value: 'MAMMOGRAPHIC' }, // PositionerType
    { tag: 0x00187004, vr: 'CS', value: 'DIRECT' }, // DetectorType: a selenium flat panel, as most FFDM
    { tag: 0x00281040, vr: 'CS', value: 'LOG' }, // PixelIntensityRelationship
    // +1: lower values mean less X-ray intensity. Tissue attenuates, and is bright (high values) in
    // MONOCHROME2, so there higher values mean less intensity (-1); MONOCHROME1 phantoms are inverted.
    { tag: 0x00281041, vr: 'SS', value: [f.monochrome1 ? 1 : -1] },
    { tag: 0x00281052, vr: 'DS', value: '0' }, // RescaleIntercept
    { tag: 0x00281053, vr: 'DS', value: '1' }, // RescaleSlope
    { tag: 0x00281054, vr: 'LO', value: 'US' }, // RescaleType: unspecified
    { tag: 0x00280301, vr: 'CS', value: 'NO' }, // BurnedInAnnotation
    { tag: 0x00282110, vr: 'CS', value: '00' }, // LossyImageCompression: every phantom syntax is lossless
    { tag: 0x00400318, vr: 'CS', value: 'BREAST' }, // OrganExposed
    { tag: 0x00400555, vr: 'SQ', value: [] }, // AcquisitionContextSequence (Type 2, nothing to say)
    {
      tag: 0x00540220, // ViewCodeSequence with its (Type 2, empty) ViewModifierCodeSequence
      vr: 'SQ',
      value: [[...codeItem(view.sct, 'SCT', view.meaning), { tag: 0x00540222, vr: 'SQ', value: [] }]],
    },
    { tag: 0x20500020, vr: 'CS', value: f.monochrome1 ? 'INVERSE' : 'IDENTITY' }, // PresentationLUTShape
  ];
}
