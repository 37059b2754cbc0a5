// Quiet, distinguishable line colours for classes on the dark theme (colour-blind aware order).
export const CLASS_COLOURS = ['#86abc8', '#d6b775', '#8fbf9f', '#e39a95', '#b59fd6', '#7fc4c4', '#c9a38a', '#a8b0b8'];

export function classColour(i: number): string {
  return CLASS_COLOURS[i % CLASS_COLOURS.length]!;
}

export interface Series {
  name: string;
  colour: string;
  points: [number, number][];
  dashed?: boolean;
  /** Draw dots at the points as well (reliability bins). */
  dots?: boolean;
  /** Points only (reliability bins are not a curve). */
  noLine?: boolean;
  /** Drawn thin and faint, behind what summarises it (a raw curve under its smoothed trend). */
  faint?: boolean;
}
