// The reason vocabulary (errors.ts) and the configurable limits (limits.ts), unit by unit.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeAllFrames, openDicomBytes } from '../../../src/main/dicom/decode';
import { DicomDataError, DicomError, asDicomError } from '../../../src/main/dicom/errors';
import { checkCodestreamClaim, setDicomLimits } from '../../../src/main/dicom/limits';
import { writeDicom } from '../../../src/main/dicom/phantom/writer';
import { TS } from '../../../src/main/dicom/transfer-syntax';
import { deepSequence, insertBeforePixelData } from './fuzz-corpus';

afterEach(() => setDicomLimits(undefined));

describe('reason vocabulary', () => {
  it('maps what dicom-parser and the engine throw to plain reasons, phrase said once', () => {
    const cases: [unknown, string, string][] = [
      [
        "dicomParser.parseDicomDataSetImplicit: invalid value for parameter 'maxPosition'",
        'truncated',
        'an element runs past the end of the file',
      ],
      ['dicomParser:parseDicomDataSetExplicit: buffer overrun', 'truncated', 'an element runs past the end of the file'],
      ['littleEndianByteArrayParser.readUint16: attempt to read past end of buffer', 'truncated', 'the file ends inside an element'],
      ['dicomParser.readSequenceItem: item tag (FFFE,E000) not found at offset 822', 'corrupt', 'a sequence item is malformed'],
      [new RangeError('Maximum call stack size exceeded'), 'too_large', 'sequences nested too deeply to follow'],
      [new RangeError('Invalid typed array length: 12870750000'), 'too_large', 'the image would not fit in memory'],
      [new RangeError('Invalid array length'), 'too_large', 'the image would not fit in memory'],
      [
        new Error('truncated: frame 2 needs 100 bytes of pixel data, have 50'),
        'truncated',
        'frame 2 needs 100 bytes of pixel data, have 50',
      ],
      [new DicomDataError('unsupported', 'BitsAllocated 64'), 'unsupported', 'BitsAllocated 64'],
    ];
    for (const [thrown, reason, detail] of cases) {
      const e = asDicomError('/x/a.dcm', thrown);
      expect(e).toBeInstanceOf(DicomError);
      expect({ reason: e.reason, message: e.message }).toEqual({ reason, message: `/x/a.dcm: ${e.summary}` });
      expect(e.summary).toBe(`${reason === 'too_large' ? 'over a limit' : reason}: ${detail}`);
    }
    expect(new DicomError('f', 'truncated', 'truncated: truncated: pixel data').message).toBe('f: truncated: pixel data');
    expect(new DicomError('f', 'not_dicom', 'not a DICOM file (no DICM preamble)').message).toBe('f: not a DICOM file: no DICM preamble');
  });
});

describe('limits', () => {
  const file = (): Uint8Array =>
    writeDicom(
      [
        { tag: 0x00080018, vr: 'UI', value: '1.2.3' },
        { tag: 0x00280002, vr: 'US', value: [1] },
        { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280010, vr: 'US', value: [4] },
        { tag: 0x00280011, vr: 'US', value: [4] },
        { tag: 0x00280100, vr: 'US', value: [8] },
      ],
      {
        transferSyntaxUID: TS.ExplicitLE,
        sopClassUID: '1.2.840.10008.5.1.4.1.1.7',
        sopInstanceUID: '1.2.3',
        pixels: { native: new Uint8Array(16), vr: 'OB' },
      },
    );

  it('sequence depth: an explicit, configurable limit, the same in every caller', async () => {
    const nested = (depth: number): Uint8Array => insertBeforePixelData(file(), deepSequence(depth, true));
    expect((await decodeAllFrames(openDicomBytes(nested(64), 'ok.dcm')))[0]!.rows).toBe(4);
    expect(() => openDicomBytes(nested(65), 'deep.dcm')).toThrow(
      'deep.dcm: over a limit: sequences nested more than 64 deep (the limit, CLEFT_DICOM_MAX_SEQUENCE_DEPTH)',
    );
    setDicomLimits({ maxSequenceDepth: 3 });
    expect(() => openDicomBytes(nested(4), 'deep.dcm')).toThrow(/more than 3 deep/);
    expect(openDicomBytes(nested(3), 'ok.dcm').header.rows).toBe(4);
  });

  it('frame size: refused before any allocation, limit named', () => {
    setDicomLimits({ maxFrameBytes: 32 });
    expect(() => openDicomBytes(file(), 'big.dcm')).toThrow(
      'big.dcm: over a limit: one 4x4 frame would take 64 bytes decoded; the limit is 32 bytes (CLEFT_DICOM_MAX_FRAME_MB)',
    );
  });

  it('a codestream claiming another size is refused before its codec runs', () => {
    // JPEG: SOI, SOF0 (P=8, Y=65500, X=65500, Nf=1).
    const sof = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0xff, 0xdc, 0xff, 0xdc, 1, 1, 0x11, 0]);
    expect(() => checkCodestreamClaim(sof, { rows: 512, columns: 416, samplesPerPixel: 1 })).toThrow(
      'the JPEG stream is 65500x65500, the header says 416x512',
    );
    // Matching the header but over the frame limit.
    expect(() => checkCodestreamClaim(sof, { rows: 65500, columns: 65500, samplesPerPixel: 1 })).toThrow(/over|limit/);
  });
});
