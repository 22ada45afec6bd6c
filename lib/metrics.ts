// Comparison of a reconstruction with a reference object (SPEC section 10, first part): register
// by an integer shift, remove the global phase offset, match the amplitude scale, then MAE of
// amplitude and phase and the correlation of the phases. Works without the addon.
import type { ComplexArray } from './ndarray.js';
import { ArgumentError } from './errors.js';

export interface Comparison {
  /** Shift (rows, columns) added to the reconstruction's object coordinates to best match. */
  shift: [number, number];
  /** Pixels compared: those the reconstruction covers, inside the region. */
  pixels: number;
  /** Global phase removed from the reconstruction, radians. */
  phaseOffset: number;
  /** Factor the reconstruction's amplitude was multiplied by (least squares). */
  amplitudeScale: number;
  amplitude: { mae: number };
  phase: { mae: number; correlation: number };
}

export interface Region {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

export interface CompareOptions {
  /** Object-coordinate box to compare (default: the reconstruction's covered pixels). */
  region?: Region;
  /** Largest shift tried in each direction (default 4 pixels). */
  search?: number;
}

const wrap = (p: number) => Math.atan2(Math.sin(p), Math.cos(p));

interface Pair { recon: number; reference: number }

/** Pairs of (reconstruction, reference) pixel indices, for one shift. */
function pairs(recon: ComplexArray, origin: [number, number], reference: ComplexArray, region: Region,
  dy: number, dx: number): Pair[] {
  const [h, w] = recon.shape;
  const [H, W] = reference.shape;
  const out: Pair[] = [];
  for (let R = Math.max(0, region.top); R <= Math.min(H - 1, region.bottom); R++) {
    for (let C = Math.max(0, region.left); C <= Math.min(W - 1, region.right); C++) {
      const i = R - origin[0] - dy;
      const j = C - origin[1] - dx;
      if (i < 0 || j < 0 || i >= h || j >= w) continue;
      const k = i * w + j;
      // uncovered canvas pixels are exactly 0
      if (recon.data[2 * k] === 0 && recon.data[2 * k + 1] === 0) continue;
      out.push({ recon: k, reference: R * W + C });
    }
  }
  return out;
}

function innerProduct(recon: ComplexArray, reference: ComplexArray, ps: Pair[]): [number, number] {
  let re = 0;
  let im = 0;
  for (const { recon: a, reference: b } of ps) {
    const [ar, ai, br, bi] = [recon.data[2 * a], recon.data[2 * a + 1], reference.data[2 * b], reference.data[2 * b + 1]];
    re += ar * br + ai * bi; // conj(a) b
    im += ar * bi - ai * br;
  }
  return [re, im];
}

/** Compares a stitched reconstruction (canvas pixel [0, 0] at `origin`) with a reference object. */
export function compareObjects(recon: ComplexArray, origin: [number, number], reference: ComplexArray,
  options: CompareOptions = {}): Comparison {
  const search = options.search ?? 4;
  const region = options.region ?? {
    top: origin[0], left: origin[1], bottom: origin[0] + recon.shape[0] - 1, right: origin[1] + recon.shape[1] - 1,
  };
  // the shift that maximises |<recon, reference>| / (|recon| |reference|) over the compared pixels
  let best = { score: -Infinity, dy: 0, dx: 0, ps: [] as Pair[] };
  for (let dy = -search; dy <= search; dy++) {
    for (let dx = -search; dx <= search; dx++) {
      const ps = pairs(recon, origin, reference, region, dy, dx);
      if (ps.length === 0) continue;
      const [re, im] = innerProduct(recon, reference, ps);
      let ea = 0;
      let eb = 0;
      for (const { recon: a, reference: b } of ps) {
        ea += recon.data[2 * a] ** 2 + recon.data[2 * a + 1] ** 2;
        eb += reference.data[2 * b] ** 2 + reference.data[2 * b + 1] ** 2;
      }
      const score = Math.hypot(re, im) / Math.sqrt(ea * eb);
      if (score > best.score) best = { score, dy, dx, ps };
    }
  }
  const ps = best.ps;
  if (ps.length === 0) throw new ArgumentError('the reconstruction and the reference do not overlap');
  const [re, im] = innerProduct(recon, reference, ps);
  const phaseOffset = Math.atan2(im, re);
  let ab = 0;
  let aa = 0;
  for (const { recon: a, reference: b } of ps) {
    const ma = Math.hypot(recon.data[2 * a], recon.data[2 * a + 1]);
    ab += ma * Math.hypot(reference.data[2 * b], reference.data[2 * b + 1]);
    aa += ma * ma;
  }
  const amplitudeScale = aa > 0 ? ab / aa : 1;
  let ampErr = 0;
  let phaseErr = 0;
  const pa: number[] = [];
  const pb: number[] = [];
  for (const { recon: a, reference: b } of ps) {
    const [ar, ai, br, bi] = [recon.data[2 * a], recon.data[2 * a + 1], reference.data[2 * b], reference.data[2 * b + 1]];
    ampErr += Math.abs(amplitudeScale * Math.hypot(ar, ai) - Math.hypot(br, bi));
    const p = wrap(Math.atan2(ai, ar) + phaseOffset);
    const q = Math.atan2(bi, br);
    phaseErr += Math.abs(wrap(p - q));
    pa.push(p);
    pb.push(q);
  }
  return {
    shift: [best.dy, best.dx],
    pixels: ps.length,
    phaseOffset,
    amplitudeScale,
    amplitude: { mae: ampErr / ps.length },
    phase: { mae: phaseErr / ps.length, correlation: pearson(pa, pb) },
  };
}

/** Pearson's correlation coefficient of two equally long series (0 when either is constant). */
export function pearson(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < n; k++) {
    ab += (a[k] - ma) * (b[k] - mb);
    aa += (a[k] - ma) ** 2;
    bb += (b[k] - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
