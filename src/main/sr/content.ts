// The classification report of one study as a DICOM Comprehensive SR dataset (docs/sr.md), built
// by pure functions over plain data so the tree can be tested without a library or a file:
// buildContentTree gives the SR content (per exam and per breast: the predicted class as a CODE,
// each class's probability as a NUM, the images it was inferred from), buildSrDataset wraps it in
// the Patient/Study modules copied from the source study, the SR series, equipment and evidence.
import type { NaturalDataset } from 'dcmjs';
import { CODES, PRIVATE_SCHEME, taskCodes, type Code } from './codes';

export const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
export const MANUFACTURER = 'CLEFT Studio';
export const RESEARCH_STATEMENT =
  'RESEARCH RESULT, NOT A DIAGNOSIS. These class probabilities were computed by a machine-learning model ' +
  'in CLEFT Studio for research. They are not a clinical interpretation, have not been verified by a ' +
  'physician, and must not be used for diagnosis or patient management.';

export interface SrImage {
  sopClassUid: string;
  sopInstanceUid: string;
  seriesUid: string;
  laterality: 'L' | 'R' | null;
}

export interface SrReport {
  task: { name: string; classes: { name: string; label?: string | undefined }[] };
  /** Probabilities in the task's class order; null when the run has no exam-level prediction. */
  exam: number[] | null;
  breasts: { laterality: 'L' | 'R'; probabilities: number[] }[];
  /** The images the run classified in this study. */
  images: SrImage[];
  model: { name: string; sha256: string | null };
  /** null name: the task's prompt templates. */
  promptSet: { name: string | null; sha256: string | null };
  adaptor: string | null;
  run: { id: number; createdAt: string; executionProvider: string | null };
  /** Device Observer UID of the app and model that produced the results. */
  deviceUid: string;
}

const codeSeq = (c: Code) => [{ CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning }];

function item(relationship: string, valueType: string, concept: Code | null, rest: NaturalDataset = {}): NaturalDataset {
  return {
    RelationshipType: relationship,
    ValueType: valueType,
    ...(concept ? { ConceptNameCodeSequence: codeSeq(concept) } : {}),
    ...rest,
  };
}
const text = (rel: string, concept: Code, value: string) => item(rel, 'TEXT', concept, { TextValue: value });
const code = (rel: string, concept: Code, value: Code, children: NaturalDataset[] = []) =>
  item(rel, 'CODE', concept, { ConceptCodeSequence: codeSeq(value), ...(children.length ? { ContentSequence: children } : {}) });

/** DS holds 16 characters: six decimals of a probability, the full double in FloatingPointValue. */
function probability(concept: Code, value: number, classCode: Code): NaturalDataset {
  return item('CONTAINS', 'NUM', CODES.classProbability, {
    MeasuredValueSequence: [
      {
        NumericValue: Number(value.toFixed(6)).toString(),
        FloatingPointValue: value,
        MeasurementUnitsCodeSequence: codeSeq(CODES.noUnits),
      },
    ],
    ContentSequence: [code('HAS CONCEPT MOD', concept, classCode)],
  });
}

/**
 * DICOM DT in UTC of an ISO 8601 instant, e.g. 20261204152322.123000. No offset suffix: the
 * dataset's TimezoneOffsetFromUTC (+0000) says UTC for every date and time in it, and dcmtk's SR
 * reader refuses DATETIME content items that carry one.
 */
export function dicomDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new Error(`not a date-time: ${iso}`);
  const s = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  return `${s.slice(0, 4)}${s.slice(5, 7)}${s.slice(8, 10)}${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 23)}000`;
}

/** The predicted class (highest probability, first on ties, as the run recorded it) with its evidence. */
function classification(report: SrReport, probabilities: number[], images: SrImage[]): NaturalDataset[] {
  const codes = taskCodes(report.task);
  if (probabilities.length !== codes.classes.length)
    throw new Error(`${probabilities.length} probabilities for the ${codes.classes.length} classes of "${report.task.name}"`);
  let best = 0;
  probabilities.forEach((p, i) => (best = p > probabilities[best]! ? i : best));
  const evidence = images.map((im) =>
    item('INFERRED FROM', 'IMAGE', null, {
      ReferencedSOPSequence: [{ ReferencedSOPClassUID: im.sopClassUid, ReferencedSOPInstanceUID: im.sopInstanceUid }],
    }),
  );
  return [
    code('CONTAINS', codes.concept, codes.classes[best]!, evidence),
    ...probabilities.map((p, i) => probability(codes.concept, p, codes.classes[i]!)),
  ];
}

/** The root CONTAINER's children: language, observer (the device), statement, run, exam, breasts. */
export function buildContentTree(report: SrReport): NaturalDataset[] {
  const run: NaturalDataset[] = [
    text('CONTAINS', CODES.runId, String(report.run.id)),
    item('CONTAINS', 'DATETIME', CODES.runTime, { DateTime: dicomDateTime(report.run.createdAt) }),
    text('CONTAINS', CODES.task, report.task.name),
    text('CONTAINS', CODES.algorithmName, report.model.name),
    ...(report.model.sha256 ? [text('CONTAINS', CODES.algorithmVersion, `sha256:${report.model.sha256}`)] : []),
    text('CONTAINS', CODES.promptSet, report.promptSet.name ?? "the task's prompt templates"),
    ...(report.promptSet.sha256 ? [text('CONTAINS', CODES.promptSetSha256, report.promptSet.sha256)] : []),
    ...(report.adaptor ? [text('CONTAINS', CODES.adaptor, report.adaptor)] : []),
    text('CONTAINS', CODES.executionDevice, report.run.executionProvider ?? 'unknown'),
  ];
  const breasts = [...report.breasts]
    .sort((a, b) => (a.laterality === b.laterality ? 0 : a.laterality === 'R' ? -1 : 1))
    .map((b) =>
      item('CONTAINS', 'CONTAINER', CODES.breastResult, {
        ContinuityOfContent: 'SEPARATE',
        ContentSequence: [
          code('HAS CONCEPT MOD', CODES.findingSite, b.laterality === 'R' ? CODES.rightBreast : CODES.leftBreast),
          ...classification(
            report,
            b.probabilities,
            report.images.filter((im) => im.laterality === b.laterality),
          ),
        ],
      }),
    );
  return [
    code('HAS CONCEPT MOD', CODES.language, CODES.englishUs),
    code('HAS OBS CONTEXT', CODES.observerType, CODES.device),
    item('HAS OBS CONTEXT', 'UIDREF', CODES.deviceObserverUid, { UID: report.deviceUid }),
    text('HAS OBS CONTEXT', CODES.deviceObserverName, MANUFACTURER),
    text('HAS OBS CONTEXT', CODES.deviceObserverManufacturer, MANUFACTURER),
    text('HAS OBS CONTEXT', CODES.deviceObserverModelName, report.model.name),
    text('CONTAINS', CODES.researchStatement, RESEARCH_STATEMENT),
    item('CONTAINS', 'CONTAINER', CODES.run, { ContinuityOfContent: 'SEPARATE', ContentSequence: run }),
    ...(report.exam
      ? [
          item('CONTAINS', 'CONTAINER', CODES.examResult, {
            ContinuityOfContent: 'SEPARATE',
            ContentSequence: classification(report, report.exam, report.images),
          }),
        ]
      : []),
    ...breasts,
  ];
}

/** Patient and General Study attributes copied from the source study (Type 2 ones written empty when absent). */
export const SOURCE_STUDY_KEYWORDS = {
  type2: [
    'PatientName',
    'PatientID',
    'PatientBirthDate',
    'PatientSex',
    'StudyDate',
    'StudyTime',
    'ReferringPhysicianName',
    'StudyID',
    'AccessionNumber',
  ],
  optional: [
    'IssuerOfPatientID',
    'IssuerOfPatientIDQualifiersSequence',
    'OtherPatientIDsSequence',
    'PatientBirthTime',
    'PatientAge',
    'PatientIdentityRemoved',
    'DeidentificationMethod',
    'DeidentificationMethodCodeSequence',
    'IssuerOfAccessionNumberSequence',
    'StudyDescription',
  ],
} as const;

export interface SrDatasetInput {
  report: SrReport;
  studyUid: string;
  /** The source study's attributes (naturalized), of which SOURCE_STUDY_KEYWORDS are copied. */
  source: NaturalDataset;
  seriesUid: string;
  sopInstanceUid: string;
  softwareVersion: string;
  /** When the report is written (its content and instance creation date and time, in UTC). */
  now: Date;
}

/** Images grouped by series, in the order first seen: the evidence sequence's shape. */
function evidence(studyUid: string, images: SrImage[]): NaturalDataset[] {
  const bySeries = new Map<string, SrImage[]>();
  for (const im of images) bySeries.set(im.seriesUid, [...(bySeries.get(im.seriesUid) ?? []), im]);
  return [
    {
      StudyInstanceUID: studyUid,
      ReferencedSeriesSequence: [...bySeries].map(([seriesUid, ims]) => ({
        SeriesInstanceUID: seriesUid,
        ReferencedSOPSequence: ims.map((im) => ({ ReferencedSOPClassUID: im.sopClassUid, ReferencedSOPInstanceUID: im.sopInstanceUid })),
      })),
    },
  ];
}

/** The whole SR dataset (naturalized, without the file meta group). */
export function buildSrDataset(input: SrDatasetInput): NaturalDataset {
  const stamp = dicomDateTime(input.now.toISOString());
  const date = stamp.slice(0, 8);
  const time = stamp.slice(8, 21);
  const copied: NaturalDataset = {};
  for (const k of SOURCE_STUDY_KEYWORDS.type2) copied[k] = input.source[k] ?? '';
  for (const k of SOURCE_STUDY_KEYWORDS.optional) if (input.source[k] !== undefined && input.source[k] !== '') copied[k] = input.source[k];
  const dataset: NaturalDataset = {
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: input.sopInstanceUid,
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    TimezoneOffsetFromUTC: '+0000',
    CodingSchemeIdentificationSequence: [
      {
        CodingSchemeDesignator: PRIVATE_SCHEME.designator,
        CodingSchemeName: PRIVATE_SCHEME.name,
        CodingSchemeResponsibleOrganization: PRIVATE_SCHEME.organization,
      },
    ],
    // Patient and General Study: the source study's.
    ...copied,
    StudyInstanceUID: input.studyUid,
    // SR Document Series.
    Modality: 'SR',
    SeriesInstanceUID: input.seriesUid,
    SeriesNumber: 900,
    SeriesDate: date,
    SeriesTime: time,
    SeriesDescription: `CLEFT Studio run ${input.report.run.id} (research, not a diagnosis)`,
    ReferencedPerformedProcedureStepSequence: [],
    // General Equipment.
    Manufacturer: MANUFACTURER,
    ManufacturerModelName: MANUFACTURER,
    SoftwareVersions: input.softwareVersion,
    // SR Document General.
    InstanceNumber: 1,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentDate: date,
    ContentTime: time,
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: evidence(input.studyUid, input.report.images),
    // SR Document Content: the root container.
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: codeSeq(CODES.reportTitle),
    ContinuityOfContent: 'SEPARATE',
    ContentSequence: buildContentTree(input.report),
  };
  // dcmjs writes text as UTF-8: declare it when any value is not plain ASCII (names copied from the
  // source, which dcmjs decoded from its own character set; a custom task's class names).
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(JSON.stringify(dataset)) ? { SpecificCharacterSet: 'ISO_IR 192', ...dataset } : dataset;
}
