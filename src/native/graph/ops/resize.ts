/**
 * Bicubic resize of the two spatial axes of an NCHW tensor, matching torch.nn.functional.interpolate(
 * mode='bicubic', align_corners=False) as used by HF `interpolate_pos_encoding`: ONNX Resize with
 * mode=cubic, cubic_coeff_a=-0.75, coordinate_transformation_mode=half_pixel, exclude_outside=0.
 *
 * Resize is linear in x: y = Mh x Mwᵀ with interpolation matrices built here from the same formula, so
 * the gradient is Mhᵀ g Mw (two MatMuls with constants).
 */
import { defineOp } from '../op';
import { attr } from '../onnx/proto';
import { fmtShape, ShapeError } from '../shape';
import type { Tensor } from '../tensor';
import { requireFloat } from './util';
import { matmul } from './matmul';

export const CUBIC_COEFF_A = -0.75;

/** Row o holds the weights of output pixel o over the input pixels (edge pixels repeat). */
export function cubicMatrix(inSize: number, outSize: number, a = CUBIC_COEFF_A): Float64Array {
  const m = new Float64Array(outSize * inSize);
  const scale = outSize / inSize;
  const w = (d: number): number => {
    const x = Math.abs(d);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) / scale - 0.5;
    const base = Math.floor(src);
    const t = src - base;
    for (let j = -1; j <= 2; j++) {
      const i = Math.min(Math.max(base + j, 0), inSize - 1);
      m[o * inSize + i]! += w(j - t);
    }
  }
  return m;
}

export const ResizeBicubic = defineOp<{ size: [number, number] }>({
  name: 'ResizeBicubic',
  infer: ([x], a) => {
    requireFloat('Resize', x!);
    const s = x!.shape;
    if (s.length !== 4 || typeof s[2] !== 'number' || typeof s[3] !== 'number') {
      throw new ShapeError(`Resize: needs NCHW with static H and W, got ${fmtShape(s)}`);
    }
    return [{ dtype: x!.dtype, shape: [s[0]!, s[1]!, a.size[0], a.size[1]] }];
  },
  emit: (e, a) => {
    const [n, c] = a.inTypes[0]!.shape;
    e.node('Resize', [a.inputs[0]!, '', '', e.dims([n!, c!, ...a.attrs.size])], a.outputs, {
      mode: attr.string('cubic'),
      cubic_coeff_a: attr.float(CUBIC_COEFF_A),
      coordinate_transformation_mode: attr.string('half_pixel'),
      exclude_outside: attr.int(0),
    });
  },
  grad: ({ inputs: [x], grads: [g], attrs }) => {
    const [h, w] = [x!.shape[2] as number, x!.shape[3] as number];
    const [oh, ow] = attrs.size;
    const mh = cubicMatrix(h, oh);
    const mhT = Array.from({ length: h * oh }, (_, k) => mh[(k % oh) * h + Math.floor(k / oh)]!);
    const gr = x!.graph;
    const left = gr.constant(mhT, x!.dtype, [h, oh]);
    const right = gr.constant(cubicMatrix(w, ow), x!.dtype, [ow, w]);
    return [matmul(matmul(left, g!), right)];
  },
});

export function resizeBicubic(x: Tensor, size: [number, number]): Tensor {
  return x.graph.apply(ResizeBicubic, [x], { size })[0]!;
}
