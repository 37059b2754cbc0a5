// Transfer syntaxes we decode, and what each implies for the pixel data. One table so the header
// reader, the frame splitter and the codec dispatcher agree on the same facts.

export type CodecKind =
  | 'native' // uncompressed, possibly big endian or deflated (the whole dataset, not the pixels)
  | 'rle'
  | 'jpeg-dct' // baseline (process 1) and extended (processes 2 & 4)
  | 'jpeg-lossless' // processes 14 (any predictor) and 14 SV1
  | 'jpeg-ls'
  | 'j2k'
  | 'htj2k';

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  codec: CodecKind;
  encapsulated: boolean;
  bigEndian: boolean;
  explicitVr: boolean;
  deflated: boolean;
  /** The syntax itself allows loss (the image may still have been stored losslessly). */
  lossy: boolean;
}

function ts(uid: string, name: string, codec: CodecKind, extra: Partial<TransferSyntaxInfo> = {}): TransferSyntaxInfo {
  return {
    uid,
    name,
    codec,
    encapsulated: codec !== 'native',
    bigEndian: false,
    explicitVr: true,
    deflated: false,
    lossy: false,
    ...extra,
  };
}

export const TS = {
  ImplicitLE: '1.2.840.10008.1.2',
  ExplicitLE: '1.2.840.10008.1.2.1',
  DeflatedLE: '1.2.840.10008.1.2.1.99',
  ExplicitBE: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  J2kLossless: '1.2.840.10008.1.2.4.90',
  J2k: '1.2.840.10008.1.2.4.91',
  Htj2kLossless: '1.2.840.10008.1.2.4.201',
  Htj2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  Htj2k: '1.2.840.10008.1.2.4.203',
  Rle: '1.2.840.10008.1.2.5',
} as const;

const TABLE: TransferSyntaxInfo[] = [
  ts(TS.ImplicitLE, 'Implicit VR Little Endian', 'native', { explicitVr: false }),
  ts(TS.ExplicitLE, 'Explicit VR Little Endian', 'native'),
  ts(TS.DeflatedLE, 'Deflated Explicit VR Little Endian', 'native', { deflated: true }),
  ts(TS.ExplicitBE, 'Explicit VR Big Endian (retired)', 'native', { bigEndian: true }),
  ts(TS.JpegBaseline, 'JPEG Baseline (Process 1)', 'jpeg-dct', { lossy: true }),
  ts(TS.JpegExtended, 'JPEG Extended (Process 2 & 4)', 'jpeg-dct', { lossy: true }),
  ts(TS.JpegLossless, 'JPEG Lossless, Non-Hierarchical (Process 14)', 'jpeg-lossless'),
  ts(TS.JpegLosslessSV1, 'JPEG Lossless, Process 14, SV1', 'jpeg-lossless'),
  ts(TS.JpegLsLossless, 'JPEG-LS Lossless', 'jpeg-ls'),
  ts(TS.JpegLsNearLossless, 'JPEG-LS Near-Lossless', 'jpeg-ls', { lossy: true }),
  ts(TS.J2kLossless, 'JPEG 2000 Lossless Only', 'j2k'),
  ts(TS.J2k, 'JPEG 2000', 'j2k', { lossy: true }),
  ts(TS.Htj2kLossless, 'HTJ2K Lossless Only', 'htj2k'),
  ts(TS.Htj2kLosslessRpcl, 'HTJ2K Lossless RPCL Only', 'htj2k'),
  ts(TS.Htj2k, 'HTJ2K', 'htj2k', { lossy: true }),
  ts(TS.Rle, 'RLE Lossless', 'rle'),
];

const BY_UID = new Map(TABLE.map((t) => [t.uid, t]));

/** Facts about a transfer syntax, or undefined when we cannot decode it. */
export function transferSyntaxInfo(uid: string): TransferSyntaxInfo | undefined {
  return BY_UID.get(uid.replace(/\0/g, '').trim());
}

export function supportedTransferSyntaxes(): readonly TransferSyntaxInfo[] {
  return TABLE;
}
