// A curve of 20,000 training steps drawn in a 290-pixel chart needs a few hundred vertices, not
// 20,000: per pixel column keep the first, lowest, highest and last point, so spikes survive and the
// drawn line looks the same while the SVG stays small and cheap to redraw on every update.

export type Point = [number, number];

/** Points sorted by x, thinned to at most about 4 × `columns` (unchanged when already that small). */
export function decimate(points: Point[], columns: number): Point[] {
  const cols = Math.max(1, Math.floor(columns));
  if (points.length <= 4 * cols) return points;
  const x0 = points[0]![0];
  const span = points[points.length - 1]![0] - x0 || 1;
  const out: Point[] = [];
  let start = 0;
  while (start < points.length) {
    const col = Math.min(cols - 1, Math.floor(((points[start]![0] - x0) / span) * cols));
    let end = start;
    let lo = start;
    let hi = start;
    while (end + 1 < points.length && Math.min(cols - 1, Math.floor(((points[end + 1]![0] - x0) / span) * cols)) === col) {
      end++;
      if (points[end]![1] < points[lo]![1]) lo = end;
      if (points[end]![1] > points[hi]![1]) hi = end;
    }
    // In x order, without repeats: first, the extremes as they occur, last.
    for (const i of [...new Set([start, Math.min(lo, hi), Math.max(lo, hi), end])]) out.push(points[i]!);
    start = end + 1;
  }
  return out;
}
