// Geometry on float images: flip, antialiased resize, zero-pad to a square, Otsu foreground crop.
// Images are single- or multi-channel, channels interleaved, values nominally in [0, 255].

export interface FloatImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

export function flipHorizontal(img: FloatImage): FloatImage {
  const { width: w, height: h, channels: c } = img;
  const out = new Float32Array(img.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + (w - 1 - x)) * c + k] = img.data[(y * w + x) * c + k]!;
  return { ...img, data: out };
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array; // count[i] weights per output, packed at maxTaps stride
  stride: number;
}

/**
 * 1-D resampling weights. Downsampling: exact area averaging (each output pixel averages the source
 * interval it covers, with fractional edge weights; = OpenCV INTER_AREA, antialiased by design).
 * Upsampling: bilinear with pixel-centre alignment (= INTER_LINEAR), where no antialiasing is needed.
 */
function taps(src: number, dst: number): Taps {
  const scale = src / dst;
  const stride = Math.ceil(scale) + 2;
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const weights = new Float32Array(dst * stride);
  for (let i = 0; i < dst; i++) {
    if (scale >= 1) {
      const a = i * scale;
      const b = a + scale;
      const s0 = Math.floor(a);
      const s1 = Math.min(src, Math.ceil(b));
      start[i] = s0;
      count[i] = s1 - s0;
      for (let s = s0; s < s1; s++) weights[i * stride + (s - s0)] = (Math.min(b, s + 1) - Math.max(a, s)) / scale;
    } else {
      const x = Math.max(0, Math.min(src - 1, (i + 0.5) * scale - 0.5));
      const s0 = Math.floor(x);
      const f = x - s0;
      start[i] = s0;
      count[i] = s0 + 1 < src ? 2 : 1;
      weights[i * stride] = count[i] === 2 ? 1 - f : 1;
      if (count[i] === 2) weights[i * stride + 1] = f;
    }
  }
  return { start, count, weights, stride };
}

/** Separable resize to (w, h); see taps() for the filter. */
export function resize(img: FloatImage, w: number, h: number): FloatImage {
  if (w === img.width && h === img.height) return img;
  const c = img.channels;
  const tx = taps(img.width, w);
  // Horizontal pass: (img.height x w)
  const mid = new Float32Array(img.height * w * c);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width;
    for (let x = 0; x < w; x++) {
      const s0 = tx.start[x]!;
      const n = tx.count[x]!;
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let t = 0; t < n; t++) acc += img.data[(row + s0 + t) * c + k]! * tx.weights[x * tx.stride + t]!;
        mid[(y * w + x) * c + k] = acc;
      }
    }
  }
  return verticalPass(mid, img.height, w, h, c);
}

/** Vertical pass of the separable resize: (srcH x w) -> (h x w), accumulating in float32. */
function verticalPass(mid: Float32Array, srcH: number, w: number, h: number, c: number): FloatImage {
  const ty = taps(srcH, h);
  const out = new Float32Array(w * h * c);
  const wc = w * c;
  for (let y = 0; y < h; y++) {
    const s0 = ty.start[y]!;
    const n = ty.count[y]!;
    const drow = y * wc;
    for (let t = 0; t < n; t++) {
      const wt = ty.weights[y * ty.stride + t]!;
      const srow = (s0 + t) * wc;
      for (let i = 0; i < wc; i++) out[drow + i]! += mid[srow + i]! * wt;
    }
  }
  return { width: w, height: h, channels: c, data: out };
}

/**
 * Integer stored values seen through a lookup table: `lut[v - lo]` is the float image value of
 * stored value v (intensity stage, inversion). Lets the pipeline read the decoded frame once
 * instead of materialising full-size float copies.
 */
export interface StoredImage {
  width: number;
  height: number;
  channels: number;
  data: Int32Array | Uint16Array | Uint8Array;
  lut: Float32Array;
  lo: number;
}

/**
 * resize(flip?(lut(stored))) in one pass over the stored values: the same taps and the same
 * floating-point operations in the same order as resize() on the materialised float image (and
 * flipHorizontal() first when `mirror`), so the result is bit-identical, without the two or three
 * full-size float32 intermediates.
 */
export function resizeStored(img: StoredImage, w: number, h: number, mirror: boolean): FloatImage {
  const { width: W, height: H, channels: c, data, lut, lo } = img;
  const tx = taps(W, w);
  const { start, count, weights, stride } = tx;
  const mid = new Float32Array(H * w * c);
  if (c === 1) {
    for (let y = 0; y < H; y++) {
      const row = y * W;
      const mrow = y * w;
      if (!mirror) {
        for (let x = 0; x < w; x++) {
          const p = row + start[x]!;
          const n = count[x]!;
          const wb = x * stride;
          let acc = 0;
          for (let t = 0; t < n; t++) acc += lut[data[p + t]! - lo]! * weights[wb + t]!;
          mid[mrow + x] = acc;
        }
      } else {
        const last = row + W - 1;
        for (let x = 0; x < w; x++) {
          const p = last - start[x]!;
          const n = count[x]!;
          const wb = x * stride;
          let acc = 0;
          for (let t = 0; t < n; t++) acc += lut[data[p - t]! - lo]! * weights[wb + t]!;
          mid[mrow + x] = acc;
        }
      }
    }
  } else {
    for (let y = 0; y < H; y++) {
      const row = y * W;
      for (let x = 0; x < w; x++) {
        const s0 = start[x]!;
        const n = count[x]!;
        for (let k = 0; k < c; k++) {
          let acc = 0;
          for (let t = 0; t < n; t++) {
            const sx = mirror ? W - 1 - (s0 + t) : s0 + t;
            acc += lut[data[(row + sx) * c + k]! - lo]! * weights[x * stride + t]!;
          }
          mid[(y * w + x) * c + k] = acc;
        }
      }
    }
  }
  return verticalPass(mid, H, w, h, c);
}

/** The (w, h) that resizeLongSideAndPad gives an image of width x height before padding. */
export function longSideSize(width: number, height: number, size: number): { w: number; h: number } {
  const s = size / Math.max(width, height);
  return { w: Math.max(1, Math.round(width * s)), h: Math.max(1, Math.round(height * s)) };
}

/** Zero-pads bottom/right to size x size. */
export function padToSquare(r: FloatImage, size: number): FloatImage {
  const { width: w, height: h, channels: c } = r;
  const out = new Float32Array(size * size * c);
  for (let y = 0; y < h; y++) out.set(r.data.subarray(y * w * c, (y + 1) * w * c), y * size * c);
  return { width: size, height: size, channels: c, data: out };
}

/** Resizes so the long side equals `size` (aspect kept), then zero-pads bottom/right to size x size. */
export function resizeLongSideAndPad(img: FloatImage, size: number): FloatImage {
  const { w, h } = longSideSize(img.width, img.height, size);
  return padToSquare(resize(img, w, h), size);
}

/** Otsu's threshold on the [0, 255] range (256 bins over the channel mean). */
export function otsuThreshold(img: FloatImage): number {
  const hist = new Float64Array(256);
  const c = img.channels;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    let v = 0;
    for (let k = 0; k < c; k++) v += img.data[p * c + k]!;
    const b = Math.round(v / c);
    hist[b < 0 ? 0 : b > 255 ? 255 : b]!++;
  }
  let sum = 0;
  for (let i = 0; i < 256; i++) sum += i * hist[i]!;
  let sumB = 0;
  let wB = 0;
  let best = 0;
  let bestVar = -1;
  for (let t = 0; t < 256; t++) {
    wB += hist[t]!;
    if (wB === 0) continue;
    const wF = n - wB;
    if (wF === 0) break;
    sumB += t * hist[t]!;
    const mB = sumB / wB;
    const mF = (sum - sumB) / wF;
    const between = wB * wF * (mB - mF) ** 2;
    if (between > bestVar) {
      bestVar = between;
      best = t;
    }
  }
  return best;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Bounding box of pixels above Otsu's threshold; the whole image when nothing stands out. */
export function otsuBox(img: FloatImage): Box {
  const t = otsuThreshold(img);
  const c = img.channels;
  let x0 = img.width;
  let y0 = img.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      let v = 0;
      for (let k = 0; k < c; k++) v += img.data[(y * img.width + x) * c + k]!;
      if (Math.round(v / c) > t) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  if (x1 < 0) return { x: 0, y: 0, width: img.width, height: img.height };
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

export function crop(img: FloatImage, b: Box): FloatImage {
  const c = img.channels;
  const out = new Float32Array(b.width * b.height * c);
  for (let y = 0; y < b.height; y++) {
    const s = ((b.y + y) * img.width + b.x) * c;
    out.set(img.data.subarray(s, s + b.width * c), y * b.width * c);
  }
  return { width: b.width, height: b.height, channels: c, data: out };
}
