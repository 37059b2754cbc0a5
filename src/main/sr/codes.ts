// The coded concepts of CLEFT Studio's classification SR (docs/sr.md). Standard codes (DCM, SCT,
// UCUM) where PS3.16 has one; the rest under the private coding scheme 99CLEFT, declared in each
// report's CodingSchemeIdentificationSequence. The built-in tasks' classes map to the BI-RADS
// codes of CID 6001 (breast composition) and CID 6027 (assessment); a custom task, and BI-RADS 6
// (not in CID 6027), get private codes.
import { createHash } from 'node:crypto';

export interface Code {
  value: string;
  scheme: string;
  meaning: string;
}

export const PRIVATE_SCHEME = {
  designator: '99CLEFT',
  name: 'CLEFT Studio classification codes',
  organization: 'CLEFT Studio',
} as const;

const cleft = (value: string, meaning: string): Code => ({ value, scheme: PRIVATE_SCHEME.designator, meaning });

export const CODES = {
  reportTitle: cleft('CLEFT-REPORT', 'CLEFT Studio classification report'),
  researchStatement: cleft('RESEARCH-USE', 'Research use statement'),
  run: cleft('RUN', 'Classification run'),
  runId: cleft('RUN-ID', 'Run ID'),
  task: cleft('TASK', 'Classification task'),
  promptSet: cleft('PROMPT-SET', 'Prompt set'),
  promptSetSha256: cleft('PROMPT-SET-SHA', 'Prompt set SHA-256'),
  adaptor: cleft('ADAPTOR', 'Adaptor head'),
  executionDevice: cleft('EXEC-DEVICE', 'Execution device'),
  runTime: cleft('RUN-TIME', 'Run time'),
  examResult: cleft('EXAM-RESULT', 'Exam classification'),
  breastResult: cleft('BREAST-RESULT', 'Breast classification'),
  classProbability: cleft('CLASS-PROB', 'Class probability'),
  language: { value: '121049', scheme: 'DCM', meaning: 'Language of Content Item and Descendants' },
  englishUs: { value: 'en-US', scheme: 'RFC5646', meaning: 'English (United States)' },
  observerType: { value: '121005', scheme: 'DCM', meaning: 'Observer Type' },
  device: { value: '121007', scheme: 'DCM', meaning: 'Device' },
  deviceObserverUid: { value: '121012', scheme: 'DCM', meaning: 'Device Observer UID' },
  deviceObserverName: { value: '121013', scheme: 'DCM', meaning: 'Device Observer Name' },
  deviceObserverManufacturer: { value: '121014', scheme: 'DCM', meaning: 'Device Observer Manufacturer' },
  deviceObserverModelName: { value: '121015', scheme: 'DCM', meaning: 'Device Observer Model Name' },
  algorithmName: { value: '111001', scheme: 'DCM', meaning: 'Algorithm Name' },
  algorithmVersion: { value: '111003', scheme: 'DCM', meaning: 'Algorithm Version' },
  findingSite: { value: '363698007', scheme: 'SCT', meaning: 'Finding Site' },
  rightBreast: { value: '73056007', scheme: 'SCT', meaning: 'Right breast' },
  leftBreast: { value: '80248007', scheme: 'SCT', meaning: 'Left breast' },
  /** UCUM's dimensionless unit: probabilities are numbers from 0 to 1. */
  noUnits: { value: '1', scheme: 'UCUM', meaning: 'no units' },
} as const satisfies Record<string, Code>;

/** Standard codes of the built-in tasks: the task's concept and each class by its name. */
const STANDARD_TASKS: Record<string, { concept: Code; classes: Record<string, Code> }> = {
  'Breast density': {
    concept: { value: '129715009', scheme: 'SCT', meaning: 'Breast composition' },
    classes: {
      A: { value: '129716005', scheme: 'SCT', meaning: 'Almost entirely fat' },
      B: { value: '129717001', scheme: 'SCT', meaning: 'Scattered fibroglandular densities' },
      C: { value: '129718006', scheme: 'SCT', meaning: 'Heterogeneously dense' },
      D: { value: '129719003', scheme: 'SCT', meaning: 'Extremely dense' },
    },
  },
  'BI-RADS assessment': {
    concept: { value: '111005', scheme: 'DCM', meaning: 'Assessment Category' },
    classes: {
      '0': { value: '397138000', scheme: 'SCT', meaning: '0 - Incomplete - Need additional imaging evaluation +/- priors' },
      '1': { value: '397140005', scheme: 'SCT', meaning: '1 - Negative' },
      '2': { value: '397141009', scheme: 'SCT', meaning: '2 - Benign' },
      '3': { value: '397143007', scheme: 'SCT', meaning: '3 - Probably Benign' },
      '4': { value: '397144001', scheme: 'SCT', meaning: '4 - Suspicious' },
      '5': { value: '397145000', scheme: 'SCT', meaning: '5 - Highly suggestive of malignancy' },
    },
  },
};

/** CodeValue (SH) holds 16 characters; longer or unusual names are replaced by a short hash. */
const CODE_VALUE = /^[A-Za-z0-9._-]{1,16}$/;
const hashValue = (prefix: string, text: string) =>
  `${prefix}${createHash('sha256').update(text).digest('hex').slice(0, 15).toUpperCase()}`;
/** CodeMeaning is an LO: at most 64 characters. */
const meaning = (text: string) => (text.length <= 64 ? text : `${text.slice(0, 61)}...`);

export interface TaskCodes {
  /** The concept name of the predicted class (the task's question). */
  concept: Code;
  /** One code per class, in the task's class order. */
  classes: Code[];
}

/** The codes of a task's question and classes: standard ones for the built-in tasks, else 99CLEFT. */
export function taskCodes(task: { name: string; classes: { name: string; label?: string | undefined }[] }): TaskCodes {
  const standard = STANDARD_TASKS[task.name];
  return {
    concept: standard?.concept ?? cleft(hashValue('T', task.name), meaning(task.name)),
    classes: task.classes.map(
      (c) =>
        standard?.classes[c.name] ??
        cleft(CODE_VALUE.test(c.name) ? c.name : hashValue('C', c.name), meaning(c.label ? `${c.name}: ${c.label}` : c.name)),
    ),
  };
}
