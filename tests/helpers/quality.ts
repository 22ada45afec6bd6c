// The interim quality check of SPEC section 10: align the stitched object with the ground truth by
// an integer-shift search around the stitched origin, remove the global phase (the argument of the
// complex inner product) and correlate the phases over the scanned interior.
import { pearson } from '../../lib/metrics.js';
import type { ComplexArray } from '../../lib/ndarray.js';

export interface Region { top: number; left: number; bottom: number; right: number }

export function phaseCorrelation(recon: ComplexArray, origin: [number, number], truth: ComplexArray,
  region: Region, search = 3): { correlation: number; shift: [number, number] } {
  const [h, w] = recon.shape;
  const W = truth.shape[1];
  let best = { correlation: -Infinity, shift: [0, 0] as [number, number] };
  for (let dy = -search; dy <= search; dy++) {
    for (let dx = -search; dx <= search; dx++) {
      const a: number[] = [];
      const b: number[] = [];
      let re = 0;
      let im = 0;
      for (let R = region.top; R <= region.bottom; R++) {
        for (let C = region.left; C <= region.right; C++) {
          const i = R - origin[0] + dy;
          const j = C - origin[1] + dx;
          if (i < 0 || j < 0 || i >= h || j >= w) continue;
          const [ar, ai] = [recon.data[2 * (i * w + j)], recon.data[2 * (i * w + j) + 1]];
          const [br, bi] = [truth.data[2 * (R * W + C)], truth.data[2 * (R * W + C) + 1]];
          re += ar * br + ai * bi;
          im += ar * bi - ai * br;
          a.push(ar, ai);
          b.push(Math.atan2(bi, br));
        }
      }
      const offset = Math.atan2(im, re);
      const pa: number[] = [];
      for (let k = 0; k < a.length; k += 2) {
        const p = Math.atan2(a[k + 1], a[k]) + offset;
        pa.push(Math.atan2(Math.sin(p), Math.cos(p)));
      }
      const correlation = pearson(pa, b);
      if (correlation > best.correlation) best = { correlation, shift: [dy, dx] };
    }
  }
  return best;
}
