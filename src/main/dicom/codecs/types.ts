// What every codec hands back: raw integer samples plus geometry. Masking, sign extension and
// colour conversion happen once, afterwards, in ../pixels.ts, so codecs stay thin.
export type SampleArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Uint32Array;

export interface CodecOutput {
  data: SampleArray;
  width: number;
  height: number;
  components: number;
  /** Samples stored plane after plane (R...G...B...) instead of pixel-interleaved. */
  planar: boolean;
  /** The codec already turned YCbCr into RGB (libjpeg, J2K multi-component transform). */
  rgb: boolean;
  /** Decomposition levels skipped (J2K/HTJ2K reduced resolution); 0 = full size. */
  reduction: number;
  /** Where the stream and the header disagree and which one was followed (shown to the user). */
  warnings?: string[];
}

export interface CodecOptions {
  /** J2K/HTJ2K: decode at 1/2^level of the full size (ignored by other codecs). */
  level?: number;
  /** Expected size, to reject streams that disagree with the header before using their samples. */
  rows?: number;
  columns?: number;
  samplesPerPixel?: number;
  bitsAllocated?: number;
  pixelRepresentation?: number;
  /** The header's Photometric Interpretation: JPEG uses it when the stream does not say its colour space. */
  photometricInterpretation?: string;
}
