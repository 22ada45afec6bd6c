// Grouping of scan positions (SPEC section 3): each training sample is a group of C = gridsize^2
// neighbouring patterns, with each member's offset from the group centroid.
import { Rng } from './random.js';

export interface GroupingOptions {
  gridsize: number;
  /** Groups wanted (n_groups, alias n_images). */
  nGroups: number;
  /** K nearest neighbours a group's members are drawn from (default 4, at least C). */
  neighborCount?: number;
  seed?: number;
  /** Allow more groups than positions: seeds repeat, groups differ. */
  oversample?: boolean;
}

export interface Groups {
  gridsize: number;
  count: number;
  /** Pattern indices (count, C): group g's members at [g C, (g + 1) C). */
  indices: Int32Array;
  /** (count, C, 2): (dx, dy) = member position - group centroid, x along columns, y along rows. */
  offsets: Float64Array;
  /** (count, 2): (x, y) of each centroid. */
  centroids: Float64Array;
  /** (count,): the position each group was grown from (its members are among its K nearest). */
  seeds: Int32Array;
  warnings: string[];
}

/** A 2-d tree with exact k-nearest-neighbour queries; ties go to the lower index. */
export class KdTree {
  private readonly order: Int32Array;

  constructor(private readonly x: Float64Array, private readonly y: Float64Array) {
    this.order = Int32Array.from({ length: x.length }, (_, i) => i);
    this.build(0, x.length, 0);
  }

  // Sorts order[lo, hi) around its median along the axis, recursively (an implicit tree).
  private build(lo: number, hi: number, depth: number): void {
    if (hi - lo <= 1) return;
    const axis = depth % 2 === 0 ? this.x : this.y;
    const mid = (lo + hi) >> 1;
    const part = Array.from(this.order.subarray(lo, hi)).sort((a, b) => axis[a] - axis[b] || a - b);
    this.order.set(part, lo);
    this.build(lo, mid, depth + 1);
    this.build(mid + 1, hi, depth + 1);
  }

  /** The k nearest points to (qx, qy), nearest first. */
  nearest(qx: number, qy: number, k: number): Int32Array {
    k = Math.min(k, this.x.length);
    // the best k so far, sorted by (distance, index), as a small insertion-sorted list
    const bestD: number[] = [];
    const bestI: number[] = [];
    const consider = (i: number) => {
      const d = (this.x[i] - qx) ** 2 + (this.y[i] - qy) ** 2;
      if (bestD.length === k && (d > bestD[k - 1] || (d === bestD[k - 1] && i > bestI[k - 1]))) return;
      let at = bestD.length;
      while (at > 0 && (bestD[at - 1] > d || (bestD[at - 1] === d && bestI[at - 1] > i))) at--;
      bestD.splice(at, 0, d);
      bestI.splice(at, 0, i);
      if (bestD.length > k) { bestD.pop(); bestI.pop(); }
    };
    const search = (lo: number, hi: number, depth: number) => {
      if (hi <= lo) return;
      const mid = (lo + hi) >> 1;
      const i = this.order[mid];
      consider(i);
      const axis = depth % 2 === 0 ? this.x : this.y;
      const delta = (depth % 2 === 0 ? qx : qy) - axis[i];
      const [near, far] = delta < 0 ? [[lo, mid], [mid + 1, hi]] : [[mid + 1, hi], [lo, mid]];
      search(near[0], near[1], depth + 1);
      // the far side can only hold a point as near as the splitting line (<=: ties by index)
      if (bestD.length < k || delta * delta <= bestD[bestD.length - 1]) search(far[0], far[1], depth + 1);
    };
    search(0, this.x.length, 0);
    return Int32Array.from(bestI);
  }
}

function check(x: Float64Array, y: Float64Array, options: GroupingOptions): { c: number; k: number } {
  const { gridsize, nGroups } = options;
  if (!Number.isInteger(gridsize) || gridsize < 1 || gridsize > 4) {
    throw new RangeError(`gridsize must be an integer from 1 to 4, got ${gridsize}`);
  }
  if (!Number.isInteger(nGroups) || nGroups < 1) throw new RangeError(`n_groups must be a positive integer, got ${nGroups}`);
  if (x.length !== y.length) throw new RangeError(`xcoords has ${x.length} positions, ycoords ${y.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) throw new RangeError(`position ${i} is not finite: (${x[i]}, ${y[i]})`);
  }
  const c = gridsize * gridsize;
  const k = options.neighborCount ?? 4;
  if (!Number.isInteger(k) || k < c) throw new RangeError(`neighbor_count (${k}) must be an integer of at least gridsize^2 = ${c}`);
  if (x.length < c) throw new RangeError(`gridsize ${gridsize} needs at least ${c} positions, the data has ${x.length}`);
  if (k > x.length) throw new RangeError(`neighbor_count (${k}) exceeds the ${x.length} positions`);
  return { c, k };
}

/** Groups of neighbouring positions, seeded: the same seed gives the same groups. */
export function groupPositions(x: Float64Array, y: Float64Array, options: GroupingOptions): Groups {
  const { c, k } = check(x, y, options);
  const n = x.length;
  const rng = new Rng(options.seed ?? 42);
  const warnings: string[] = [];
  let count = options.nGroups;
  if (count > n && !options.oversample) {
    warnings.push(`n_groups ${count} exceeds the ${n} scan positions: making ${n} groups (--oversample allows more, with repeated seeds)`);
    count = n;
  }

  // seed positions: at g = 1 with every position wanted, file order, as the reference does
  const seeds = c === 1 && count === n ? Int32Array.from({ length: n }, (_, i) => i)
    : count <= n ? rng.sampleWithoutReplacement(n, count)
    : Int32Array.from({ length: count }, () => rng.int(n)); // oversampling: seeds repeat

  const indices = new Int32Array(count * c);
  if (c === 1) {
    indices.set(seeds);
  } else {
    const tree = new KdTree(x, y);
    for (let g = 0; g < count; g++) {
      const near = tree.nearest(x[seeds[g]], y[seeds[g]], k);
      const pick = rng.sampleWithoutReplacement(k, c);
      for (let m = 0; m < c; m++) indices[g * c + m] = near[pick[m]];
    }
  }

  const offsets = new Float64Array(count * c * 2);
  const centroids = new Float64Array(count * 2);
  for (let g = 0; g < count; g++) {
    let cx = 0;
    let cy = 0;
    for (let m = 0; m < c; m++) {
      cx += x[indices[g * c + m]];
      cy += y[indices[g * c + m]];
    }
    cx /= c;
    cy /= c;
    centroids[2 * g] = cx;
    centroids[2 * g + 1] = cy;
    for (let m = 0; m < c; m++) {
      offsets[2 * (g * c + m)] = x[indices[g * c + m]] - cx;
      offsets[2 * (g * c + m) + 1] = y[indices[g * c + m]] - cy;
    }
  }
  return { gridsize: options.gridsize, count, indices, offsets, centroids, seeds, warnings };
}
