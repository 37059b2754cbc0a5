// Public surface of the DICOM library (the app, the web host, the engine worker and the CLI).
export { DicomError, type DicomErrorReason } from './errors';
export { type DicomHeader, SOP_CLASS, readDicomHeader, readHeaderFromBytes, headerFromDataset } from './header';
export { type DicomdirRecord, readDicomdir, parseDicomdir, dicomdirFiles } from './dicomdir';
export {
  type DicomImage,
  type DecodeOptions,
  type DecodedFrame,
  type RawFrame,
  openDicomFile,
  openDicomBytes,
  decodeFrame,
  decodeAllFrames,
  withRawFrame,
} from './decode';
export { TS, type TransferSyntaxInfo, transferSyntaxInfo, supportedTransferSyntaxes } from './transfer-syntax';
export { PreprocessSpec, PRESETS, type PresetName, presetSpec, specHash, canonicalSpecJson } from './pipeline/spec';
export { type PreparedImage, type PreparedBatch, type Stage, prepareImage, prepareFiles, toStage, chestWallOf } from './pipeline/prepare';
export { generatePhantoms, generateExam, type PhantomOptions, type PhantomExam, PHANTOM_SYNTAXES, PHANTOM_SIZES } from './phantom/index';
