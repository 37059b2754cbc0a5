// Synthetic mammograms: a compressed breast against the chest wall on the correct side, a skin
// line, fibroglandular texture whose area fraction follows the BI-RADS density class, an optional
// pectoral muscle (MLO), masses and calcification clusters. Values are 12-bit, MONOCHROME2
// (dense = bright), as a FOR PRESENTATION image. Deterministic from the RNG passed in.
import { mulberry32, type Rng } from '../../../native/io/random';

export type Density = 'A' | 'B' | 'C' | 'D';
export type View = 'CC' | 'MLO';
export type Side = 'L' | 'R';

/** Target fibroglandular fraction of the breast area per BI-RADS class (midpoints of the classes). */
export const DENSITY_FRACTION: Record<Density, number> = { A: 0.12, B: 0.37, C: 0.62, D: 0.87 };
export const DENSITY_TEXT: Record<Density, string> = {
  A: 'almost entirely fatty',
  B: 'scattered areas of fibroglandular density',
  C: 'heterogeneously dense, which may obscure small masses',
  D: 'extremely dense, which lowers the sensitivity of mammography',
};

export interface Mass {
  /** Position as fractions of the breast depth (from chest wall) and height. */
  depth: number;
  height: number;
  radiusMm: number;
  spiculated: boolean;
}

export interface CalcCluster {
  depth: number;
  height: number;
  count: number;
}

export interface BreastSpec {
  rows: number;
  columns: number;
  side: Side;
  view: View;
  density: Density;
  masses: Mass[];
  calcifications: CalcCluster[];
  /** mm per pixel, to size findings. */
  pixelSpacing: number;
}

export { mulberry32, type Rng };

function gauss(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Smooth value noise: bilinear interpolation of a random grid, several octaves, on a small grid then upsampled. */
function valueNoise(w: number, h: number, rng: Rng, cells: number, octaves: number): Float32Array {
  const out = new Float32Array(w * h);
  let amp = 1;
  let c = cells;
  for (let o = 0; o < octaves; o++, amp *= 0.55, c *= 2) {
    const gw = c + 2;
    const gh = Math.ceil((c * h) / w) + 2;
    const grid = new Float32Array(gw * gh);
    for (let i = 0; i < grid.length; i++) grid[i] = rng();
    for (let y = 0; y < h; y++) {
      const gy = (y / h) * (gh - 2);
      const y0 = Math.floor(gy);
      const fy = gy - y0;
      const sy = fy * fy * (3 - 2 * fy);
      for (let x = 0; x < w; x++) {
        const gx = (x / w) * (gw - 2);
        const x0 = Math.floor(gx);
        const fx = gx - x0;
        const sx = fx * fx * (3 - 2 * fx);
        const a = grid[y0 * gw + x0]! * (1 - sx) + grid[y0 * gw + x0 + 1]! * sx;
        const b = grid[(y0 + 1) * gw + x0]! * (1 - sx) + grid[(y0 + 1) * gw + x0 + 1]! * sx;
        out[y * w + x]! += amp * (a * (1 - sy) + b * sy);
      }
    }
  }
  return out;
}

/** Renders one view; returns 12-bit stored values (MONOCHROME2) and the fibroglandular fraction achieved. */
export function renderBreast(s: BreastSpec, rng: Rng): { pixels: Uint16Array; glandularFraction: number } {
  const { rows: h, columns: w } = s;
  // Work in "depth from chest wall" coordinates: u = 0 at the chest wall, 1 at the nipple's max depth.
  const chestRight = s.side === 'R'; // standard hanging: right breast has its chest wall on the right edge
  const depth = 0.78 * w;
  const halfH = (s.view === 'CC' ? 0.42 : 0.47) * h;
  const cy = (s.view === 'CC' ? 0.5 : 0.55) * h;
  const inside = new Uint8Array(w * h);
  const dist = new Float32Array(w * h); // normalised radius (0 centre .. 1 skin)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const u = (chestRight ? w - 1 - x : x) / depth;
      // MLO: breast hangs lower and is tilted; add a droop to the vertical position with depth.
      const v = (y - cy - (s.view === 'MLO' ? 0.12 * h * u : 0)) / halfH;
      const r = Math.sqrt(u * u + v * v);
      dist[y * w + x] = r;
      if (r < 1) inside[y * w + x] = 1;
    }
  const noise = valueNoise(w, h, rng, 6, 4);
  const fine = valueNoise(w, h, rng, 40, 2);
  // Glandular tissue prefers the central, retroareolar region: weight noise by (1 - r).
  const score = new Float32Array(w * h);
  const breastIdx: number[] = [];
  for (let i = 0; i < w * h; i++) {
    if (!inside[i]) continue;
    score[i] = noise[i]! * 0.8 + fine[i]! * 0.25 + (1 - dist[i]!) * 0.9;
    breastIdx.push(i);
  }
  // Threshold at the quantile that yields the target glandular fraction.
  const sorted = breastIdx.map((i) => score[i]!).sort((a, b) => a - b);
  const frac = DENSITY_FRACTION[s.density];
  const thr = sorted[Math.min(sorted.length - 1, Math.floor((1 - frac) * sorted.length))] ?? Infinity;
  const img = new Float32Array(w * h);
  let gland = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!inside[i]) {
        img[i] = 60 + 10 * rng(); // direct exposure background: dark in a FOR PRESENTATION image
        continue;
      }
      const r = dist[i]!;
      // Thinner tissue near the edge attenuates less: fade towards the skin.
      const thickness = Math.sqrt(Math.max(0, 1 - r * r));
      const isGland = score[i]! >= thr;
      if (isGland) gland++;
      const soft = Math.min(1, Math.max(0, (score[i]! - thr) * 6 + 0.5));
      let v = 900 + 700 * thickness + (isGland ? 900 + 400 * soft : 150 * fine[i]!);
      if (r > 0.975) v += 450; // skin line
      img[i] = v;
    }
  if (s.view === 'MLO') {
    // Pectoral muscle: a bright triangle in the upper corner at the chest wall.
    for (let y = 0; y < 0.45 * h; y++)
      for (let x = 0; x < 0.3 * w * (1 - y / (0.45 * h)); x++) {
        const xi = chestRight ? w - 1 - x : x;
        const i = y * w + xi;
        if (inside[i]) img[i] = 2900 + 150 * fine[i]!;
      }
  }
  const place = (d: number, hh: number): [number, number] => {
    const u = d * depth * 0.8;
    const x = chestRight ? w - 1 - u : u;
    return [x, cy + (hh - 0.5) * halfH * 1.2];
  };
  for (const m of s.masses) {
    const [mx, my] = place(m.depth, m.height);
    const rad = m.radiusMm / s.pixelSpacing;
    for (let y = Math.floor(my - 2 * rad); y <= my + 2 * rad; y++)
      for (let x = Math.floor(mx - 2 * rad); x <= mx + 2 * rad; x++) {
        if (x < 0 || y < 0 || x >= w || y >= h || !inside[y * w + x]) continue;
        const ang = Math.atan2(y - my, x - mx);
        const edge = rad * (m.spiculated ? 1 + 0.35 * Math.max(0, Math.sin(ang * 9)) ** 4 : 1);
        const d = Math.hypot(x - mx, y - my) / edge;
        if (d < 1.3) img[y * w + x]! += 700 / (1 + Math.exp((d - 1) * 12));
      }
  }
  for (const c of s.calcifications) {
    const [cx, cyy] = place(c.depth, c.height);
    const spread = 4 / s.pixelSpacing;
    for (let k = 0; k < c.count; k++) {
      const x = Math.round(cx + gauss(rng) * spread);
      const y = Math.round(cyy + gauss(rng) * spread);
      const rad = Math.max(0.6, (0.15 + 0.2 * rng()) / s.pixelSpacing);
      for (let dy = -Math.ceil(rad); dy <= Math.ceil(rad); dy++)
        for (let dx = -Math.ceil(rad); dx <= Math.ceil(rad); dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h || !inside[yy * w + xx]) continue;
          if (dx * dx + dy * dy <= rad * rad) img[yy * w + xx] = 3900;
        }
    }
  }
  const pixels = new Uint16Array(w * h);
  for (let i = 0; i < w * h; i++) pixels[i] = Math.max(0, Math.min(4095, Math.round(img[i]! + 18 * gauss(rng))));
  return { pixels, glandularFraction: breastIdx.length ? gland / breastIdx.length : 0 };
}
