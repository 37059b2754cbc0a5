// Progressive full resolution: a JPEG 2000 codestream decodes at any of its wavelet resolution
// levels (the back end stops the synthesis early for a `maxSize` request), so between the preview
// and the full frame the viewer asks for each level in turn and draws each as it arrives: the
// picture sharpens in steps instead of staying blocky until the whole frame is in. Other syntaxes
// decode the whole frame whatever size is asked, so for them the next step is the full frame.

/** JPEG 2000 and HTJ2K transfer syntaxes (lossless, lossy, and the HTJ2K RPCL variant). */
export const J2K_SYNTAXES: ReadonlySet<string> = new Set([
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.91',
  '1.2.840.10008.1.2.4.201',
  '1.2.840.10008.1.2.4.202',
  '1.2.840.10008.1.2.4.203',
]);

/**
 * Longest sides to ask for after a preview of `shownLongest`, before the full frame of
 * `fullLongest`: each resolution level in between (doubling), for JPEG 2000 only.
 */
export function refinementSizes(shownLongest: number, fullLongest: number, transferSyntaxUid: string | null): number[] {
  if (!transferSyntaxUid || !J2K_SYNTAXES.has(transferSyntaxUid) || shownLongest <= 0) return [];
  const sizes: number[] = [];
  for (let s = shownLongest * 2; s < fullLongest; s *= 2) sizes.push(s);
  return sizes;
}
