// Grouping of scan positions (SPEC section 3): each training sample is a group of C = gridsize^2
// neighbouring patterns, with each member's offset from the group centroid.
import { Rng } from './random.js';
import { ArgumentError } from './errors.js';

/** How scan positions are grouped into the network's samples. */
export interface GroupingOptions {
  /** g: a group holds C = g^2 patterns (an integer from 1 to 4). */
  gridsize: number;
  /** Groups wanted (n_groups, alias n_images). */
  nGroups: number;
  /** K: the nearest neighbours a group's members are drawn from (default max(4, C); C <= K <= n). */
  neighborCount?: number;
  /** Default 42. */
  seed?: number;
  /** At g > 1, allow more groups than positions: seeds repeat, their groups differ. */
  oversample?: boolean;
  /**
   * At g > 1, keep only the groups needed so that every position is in one: seeds are drawn as
   * without it, a seed that an earlier group already holds is skipped, and each group holds its
   * seed. `nGroups` is then an upper bound. For inference: each pattern is predicted about 1.5
   * times (Run1084's scan at g = 2) instead of about C times.
   */
  cover?: boolean;
}

/** Groups of C = gridsize^2 scan positions: pattern indices and each member's offset from the group's centre. */
export interface Groups {
  gridsize: number;
  count: number;
  /**
   * Pattern indices (count, C): group g's members at [g C, (g + 1) C). Groups come in the order
   * their seeds were drawn (not sorted), except g = 1 with every position wanted: file order.
   */
  indices: Int32Array;
  /** (count, C, 2): (dx, dy) = member position - group centroid, x along columns, y along rows. */
  offsets: Float64Array;
  /** (count, 2): (x, y) of each centroid. */
  centroids: Float64Array;
  /** (count,): the position each group was grown from (its members are among its K nearest). */
  seeds: Int32Array;
  warnings: string[];
}

/**
 * A 2-d tree with exact k-nearest-neighbour queries: O(n log^2 n) to build, about O(log n + k)
 * a query on scan-like data. Ties in distance go to the lower index, so results never depend on
 * the tree's shape.
 */
export class KdTree {
  // An implicit tree: the node of order[lo, hi) is order[mid], its children the two halves.
  private readonly order: Int32Array;

  constructor(private readonly x: Float64Array, private readonly y: Float64Array) {
    if (x.length !== y.length) throw new ArgumentError(`KdTree: ${x.length} x coordinates but ${y.length} y coordinates`);
    this.order = Int32Array.from({ length: x.length }, (_, i) => i);
    this.build(0, x.length, 0);
  }

  private build(lo: number, hi: number, depth: number): void {
    if (hi - lo <= 1) return;
    const axis = depth % 2 === 0 ? this.x : this.y;
    this.order.subarray(lo, hi).sort((a, b) => axis[a] - axis[b] || a - b);
    const mid = (lo + hi) >> 1;
    this.build(lo, mid, depth + 1);
    this.build(mid + 1, hi, depth + 1);
  }

  /** The k nearest points to (qx, qy), nearest first (ties: lower index first). */
  nearest(qx: number, qy: number, k: number): Int32Array {
    if (!Number.isInteger(k) || k < 0) throw new ArgumentError(`nearest: k must be a non-negative integer, got ${k}`);
    k = Math.min(k, this.x.length);
    // the best so far, sorted by (distance, index); k is small, so insertion beats a heap
    const bestD = new Float64Array(k);
    const bestI = new Int32Array(k);
    let found = 0;
    const consider = (i: number) => {
      const d = (this.x[i] - qx) ** 2 + (this.y[i] - qy) ** 2;
      if (found === k && (d > bestD[k - 1] || (d === bestD[k - 1] && i > bestI[k - 1]))) return;
      let at = found < k ? found++ : k - 1;
      for (; at > 0 && (bestD[at - 1] > d || (bestD[at - 1] === d && bestI[at - 1] > i)); at--) {
        bestD[at] = bestD[at - 1];
        bestI[at] = bestI[at - 1];
      }
      bestD[at] = d;
      bestI[at] = i;
    };
    const search = (lo: number, hi: number, depth: number): void => {
      if (hi <= lo || k === 0) return;
      const mid = (lo + hi) >> 1;
      const i = this.order[mid];
      consider(i);
      const delta = depth % 2 === 0 ? qx - this.x[i] : qy - this.y[i];
      // Points equal to the split along the axis may sit on either side, and every point on the
      // far side is at least |delta| away; "<=" keeps equally distant points of lower index.
      if (delta < 0) {
        search(lo, mid, depth + 1);
        if (found < k || delta * delta <= bestD[k - 1]) search(mid + 1, hi, depth + 1);
      } else {
        search(mid + 1, hi, depth + 1);
        if (found < k || delta * delta <= bestD[k - 1]) search(lo, mid, depth + 1);
      }
    };
    search(0, this.x.length, 0);
    return bestI;
  }
}

function check(x: Float64Array, y: Float64Array, options: GroupingOptions): { c: number; k: number } {
  const { gridsize, nGroups } = options;
  if (!Number.isInteger(gridsize) || gridsize < 1 || gridsize > 4) {
    throw new ArgumentError(`gridsize must be an integer from 1 to 4, got ${gridsize}`);
  }
  if (!Number.isInteger(nGroups) || nGroups < 1) throw new ArgumentError(`n_groups must be a positive integer, got ${nGroups}`);
  if (x.length !== y.length) throw new ArgumentError(`xcoords has ${x.length} positions but ycoords ${y.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) throw new ArgumentError(`scan position ${i} is not finite: (x, y) = (${x[i]}, ${y[i]})`);
  }
  const c = gridsize * gridsize;
  const k = options.neighborCount ?? Math.max(4, c);
  if (!Number.isInteger(k) || k < 1) throw new ArgumentError(`neighbor_count must be a positive integer, got ${k}`);
  if (k < c) throw new ArgumentError(`neighbor_count (${k}) must be at least gridsize^2 = ${c}`);
  if (x.length < c) throw new ArgumentError(`gridsize ${gridsize} needs at least ${c} scan positions, the data has ${x.length}`);
  // at g = 1 no neighbours are looked up, so K may exceed a small data set
  if (c > 1 && k > x.length) throw new ArgumentError(`neighbor_count (${k}) exceeds the ${x.length} scan positions`);
  return { c, k };
}

/**
 * Groups of C = gridsize^2 neighbouring positions, seeded: the same seed gives the same groups.
 * g = 1: n_groups >= n takes every position once, in file order; fewer take n_groups distinct
 * positions in the order drawn. g > 1: seeds drawn without replacement (with replacement under
 * `oversample` when n_groups > n), each group C distinct positions drawn from the seed's K nearest.
 */
export function groupPositions(x: Float64Array, y: Float64Array, options: GroupingOptions): Groups {
  const { c, k } = check(x, y, options);
  const n = x.length;
  const rng = new Rng(options.seed ?? 42);
  const warnings: string[] = [];
  let count = options.nGroups;
  if (count > n) {
    if (c === 1) {
      // a group of one pattern cannot differ from its repeat, so oversampling only reweights
      warnings.push(`n_groups ${count} exceeds the ${n} scan positions: using each position once`
        + (options.oversample ? ' (--oversample has no effect at gridsize 1: repeated single patterns are identical groups)' : ''));
      count = n;
    } else if (!options.oversample) {
      warnings.push(`n_groups ${count} exceeds the ${n} scan positions: making ${n} groups (--oversample allows more, with repeated seeds)`);
      count = n;
    }
  }

  let seeds = c === 1 && count === n ? Int32Array.from({ length: n }, (_, i) => i) // the reference's file order
    : count <= n ? rng.sampleWithoutReplacement(n, count)
    : Int32Array.from({ length: count }, () => rng.int(n)); // oversampling: seeds repeat

  let indices = new Int32Array(count * c);
  if (c === 1) {
    indices.set(seeds);
  } else {
    const tree = new KdTree(x, y);
    const held = options.cover ? new Uint8Array(n) : undefined;
    let kept = 0;
    for (let g = 0; g < count; g++) {
      if (held?.[seeds[g]]) continue;
      const near = tree.nearest(x[seeds[g]], y[seeds[g]], k);
      const members = Array.from(rng.sampleWithoutReplacement(k, c), (p) => near[p]);
      // a cover needs the seed among the members, which K > C does not ensure
      if (held && !members.includes(seeds[g])) members[0] = seeds[g];
      for (let m = 0; m < c; m++) {
        indices[kept * c + m] = members[m];
        if (held) held[members[m]] = 1;
      }
      seeds[kept++] = seeds[g];
    }
    if (held) {
      count = kept;
      indices = indices.slice(0, count * c);
      seeds = seeds.slice(0, count);
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
