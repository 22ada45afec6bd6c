import test from 'ava';
import { KdTree, groupPositions } from '../lib/grouping.js';
import { Rng } from '../lib/random.js';

function randomPositions(n: number, seed: number) {
  const rng = new Rng(seed);
  return { x: Float64Array.from({ length: n }, () => 500 * rng.next()), y: Float64Array.from({ length: n }, () => 500 * rng.next()) };
}

/** The k nearest by sorting every distance: ties by lower index, as the tree promises. */
function bruteForce(x: Float64Array, y: Float64Array, qx: number, qy: number, k: number): number[] {
  return Array.from(x.keys())
    .map((i) => ({ i, d: (x[i] - qx) ** 2 + (y[i] - qy) ** 2 }))
    .sort((a, b) => a.d - b.d || a.i - b.i).slice(0, k).map((e) => e.i);
}

test('k nearest neighbours equal brute force on 2,000 random points', (t) => {
  const { x, y } = randomPositions(2000, 1);
  const tree = new KdTree(x, y);
  const rng = new Rng(2);
  for (let q = 0; q < 300; q++) {
    // half the queries on data points (the grouping's case), half anywhere, some outside the cloud
    const [qx, qy] = q % 2 ? [x[q], y[q]] : [600 * rng.next() - 50, 600 * rng.next() - 50];
    const k = [1, 4, 7, 20][q % 4];
    t.deepEqual(Array.from(tree.nearest(qx, qy, k)), bruteForce(x, y, qx, qy, k));
  }
  t.is(tree.nearest(1, 1, 0).length, 0);
  t.is(new KdTree(x.subarray(0, 5), y.subarray(0, 5)).nearest(0, 0, 9).length, 5);
});

test('k nearest neighbours equal brute force on a raster full of exact ties, lower index first', (t) => {
  // a 30 x 30 raster of step 3, plus duplicates of some points: many equal distances
  const n = 900;
  const x = new Float64Array(n + 30);
  const y = new Float64Array(n + 30);
  for (let i = 0; i < n; i++) { x[i] = 3 * (i % 30); y[i] = 3 * Math.floor(i / 30); }
  for (let i = 0; i < 30; i++) { x[n + i] = x[31 * i]; y[n + i] = y[31 * i]; }
  const tree = new KdTree(x, y);
  const rng = new Rng(3);
  for (let q = 0; q < 300; q++) {
    // lattice points, cell centres (4 equidistant neighbours) and edge midpoints (2)
    const i = rng.int(n);
    const [qx, qy] = [x[i] + 1.5 * (q % 3 === 1 ? 1 : 0), y[i] + 1.5 * (q % 3 === 0 ? 0 : 1)];
    const k = 1 + (q % 13);
    t.deepEqual(Array.from(tree.nearest(qx, qy, k)), bruteForce(x, y, qx, qy, k));
  }
  // the centre of a cell: four neighbours at the same distance, in index order
  t.deepEqual(Array.from(tree.nearest(4.5, 4.5, 4)), [31, 32, 61, 62]);
});

test('gridsize 1: every position once in file order when n_groups >= n, else a seeded draw', (t) => {
  const { x, y } = randomPositions(50, 3);
  const exact = groupPositions(x, y, { gridsize: 1, nGroups: 50 });
  t.deepEqual(Array.from(exact.indices), Array.from({ length: 50 }, (_, i) => i));
  t.deepEqual(exact.warnings, []);
  t.true(exact.offsets.every((v) => v === 0));
  t.deepEqual(Array.from(exact.centroids.filter((_, i) => i % 2 === 0)), Array.from(x));
  t.deepEqual(Array.from(exact.centroids.filter((_, i) => i % 2 === 1)), Array.from(y));

  const more = groupPositions(x, y, { gridsize: 1, nGroups: 80 });
  t.deepEqual(more.indices, exact.indices);
  t.regex(more.warnings[0], /n_groups 80 exceeds the 50 scan positions: using each position once/);
  // a group of one cannot differ from its repeat: oversampling does not apply
  const over = groupPositions(x, y, { gridsize: 1, nGroups: 80, oversample: true });
  t.deepEqual(over.indices, exact.indices);
  t.regex(over.warnings[0], /--oversample has no effect at gridsize 1/);

  const some = groupPositions(x, y, { gridsize: 1, nGroups: 20, seed: 9 });
  t.is(some.count, 20);
  t.is(new Set(some.indices).size, 20);
  // documented order: as drawn, i.e. the seeded generator's sample, not sorted
  t.deepEqual(some.indices, new Rng(9).sampleWithoutReplacement(50, 20));
  t.deepEqual(some.indices, groupPositions(x, y, { gridsize: 1, nGroups: 20, seed: 9 }).indices);
  t.notDeepEqual(some.indices, groupPositions(x, y, { gridsize: 1, nGroups: 20, seed: 10 }).indices);
  // K is not used at g = 1, so a small data set does not trip over the default K = 4
  t.is(groupPositions(x.subarray(0, 2), y.subarray(0, 2), { gridsize: 1, nGroups: 2 }).count, 2);
});

test('gridsize 2 groups are distinct members of their seed\'s K nearest, offsets from their centroid', (t) => {
  const { x, y } = randomPositions(400, 4);
  const options = { gridsize: 2, nGroups: 100, neighborCount: 6, seed: 5 };
  const g = groupPositions(x, y, options);
  t.is(g.count, 100);
  t.is(g.indices.length, 400);
  t.is(g.offsets.length, 800);
  t.is(g.centroids.length, 200);
  t.is(new Set(g.seeds).size, 100);
  const again = groupPositions(x, y, options);
  t.deepEqual(again.indices, g.indices);
  t.deepEqual(again.offsets, g.offsets);
  t.notDeepEqual(groupPositions(x, y, { ...options, seed: 6 }).indices, g.indices);
  for (let k = 0; k < g.count; k++) {
    const members = Array.from(g.indices.subarray(4 * k, 4 * k + 4));
    t.is(new Set(members).size, 4);
    const seed = g.seeds[k];
    const nearest = bruteForce(x, y, x[seed], y[seed], 6);
    t.true(members.every((m) => nearest.includes(m)), `group ${k}: ${members} not all among ${nearest}`);
    let sx = 0;
    let sy = 0;
    members.forEach((m, j) => {
      const [dx, dy] = [g.offsets[2 * (4 * k + j)], g.offsets[2 * (4 * k + j) + 1]];
      t.true(Math.abs(x[m] - g.centroids[2 * k] - dx) < 1e-12 && Math.abs(y[m] - g.centroids[2 * k + 1] - dy) < 1e-12);
      sx += dx;
      sy += dy;
    });
    t.true(Math.abs(sx) < 1e-9 && Math.abs(sy) < 1e-9, `offsets of group ${k} sum to (${sx}, ${sy})`);
  }
});

test('cover: every position in a group, each group holding its seed among its K nearest, far fewer groups', (t) => {
  const { x, y } = randomPositions(400, 7);
  for (const neighborCount of [4, 7]) {
    const options = { gridsize: 2, nGroups: 400, neighborCount, seed: 3 };
    const every = groupPositions(x, y, options);
    const cover = groupPositions(x, y, { ...options, cover: true });
    const times = new Uint16Array(400);
    for (const i of cover.indices) times[i]++;
    t.true(times.every((v) => v >= 1), `K = ${neighborCount}: a position in no group`);
    t.true(cover.count < every.count / 2, `K = ${neighborCount}: ${cover.count} groups`);
    t.is(cover.indices.length, 4 * cover.count);
    t.is(cover.offsets.length, 8 * cover.count);
    t.is(new Set(cover.seeds).size, cover.count);
    for (let k = 0; k < cover.count; k++) {
      const members = Array.from(cover.indices.subarray(4 * k, 4 * k + 4));
      t.is(new Set(members).size, 4);
      t.true(members.includes(cover.seeds[k]));
      const nearest = bruteForce(x, y, x[cover.seeds[k]], y[cover.seeds[k]], neighborCount);
      t.true(members.every((m) => nearest.includes(m)), `group ${k}: ${members} not all among ${nearest}`);
      // a seed is skipped only when an earlier group holds it
      if (k > 0) t.false(cover.indices.subarray(0, 4 * k).includes(cover.seeds[k]));
    }
    t.deepEqual(groupPositions(x, y, { ...options, cover: true }).indices, cover.indices);
  }
});

test('more groups than positions: capped with a warning naming --oversample; with it, repeated seeds', (t) => {
  const { x, y } = randomPositions(30, 6);
  const capped = groupPositions(x, y, { gridsize: 2, nGroups: 100 });
  t.is(capped.count, 30);
  t.is(capped.warnings.length, 1);
  t.regex(capped.warnings[0], /n_groups 100 exceeds the 30 scan positions: making 30 groups \(--oversample allows more/);
  t.is(new Set(capped.seeds).size, 30);

  const over = groupPositions(x, y, { gridsize: 2, nGroups: 100, oversample: true });
  t.is(over.count, 100);
  t.is(over.indices.length, 400);
  t.deepEqual(over.warnings, []);
  t.true(new Set(over.seeds).size < 100);
  // groups grown from the same seed differ: members are drawn afresh from the K nearest. At K = C
  // (the default at g = 2) only their order (the channel order) can change; at K > C the sets do.
  const variants = (g: typeof over, sorted: boolean) => {
    const bySeed = new Map<number, Set<string>>();
    for (let k = 0; k < g.count; k++) {
      const members = Array.from(g.indices.subarray(4 * k, 4 * k + 4));
      const key = (sorted ? members.sort((a, b) => a - b) : members).join(',');
      bySeed.set(g.seeds[k], (bySeed.get(g.seeds[k]) ?? new Set()).add(key));
    }
    return Math.max(...[...bySeed.values()].map((keys) => keys.size));
  };
  t.true(variants(over, false) > 1);
  t.is(variants(over, true), 1);
  t.true(variants(groupPositions(x, y, { gridsize: 2, nGroups: 100, neighborCount: 6, oversample: true }), true) > 1);
  // oversample changes nothing when positions suffice
  t.deepEqual(groupPositions(x, y, { gridsize: 2, nGroups: 20, oversample: true }).indices,
    groupPositions(x, y, { gridsize: 2, nGroups: 20 }).indices);
});

test('impossible options are refused, naming the option', (t) => {
  const { x, y } = randomPositions(10, 7);
  t.throws(() => groupPositions(x, y, { gridsize: 2, nGroups: 5, neighborCount: 3 }), { message: 'neighbor_count (3) must be at least gridsize^2 = 4' });
  t.throws(() => groupPositions(x, y, { gridsize: 3, nGroups: 5, neighborCount: 4 }), { message: 'neighbor_count (4) must be at least gridsize^2 = 9' });
  // without one, K is max(4, C): at g = 3 the 9 nearest
  t.is(groupPositions(x, y, { gridsize: 3, nGroups: 5 }).count, 5);
  t.throws(() => groupPositions(x, y, { gridsize: 2, nGroups: 5, neighborCount: 4.5 }), { message: /neighbor_count must be a positive integer, got 4.5/ });
  t.throws(() => groupPositions(x, y, { gridsize: 2, nGroups: 5, neighborCount: 11 }), { message: /neighbor_count \(11\) exceeds the 10 scan positions/ });
  for (const gridsize of [0, 5, 1.5]) {
    t.throws(() => groupPositions(x, y, { gridsize, nGroups: 5 }), { message: `gridsize must be an integer from 1 to 4, got ${gridsize}` });
  }
  for (const nGroups of [0, -1, 2.5]) {
    t.throws(() => groupPositions(x, y, { gridsize: 1, nGroups }), { message: `n_groups must be a positive integer, got ${nGroups}` });
  }
  t.throws(() => groupPositions(x.subarray(0, 3), y.subarray(0, 3), { gridsize: 2, nGroups: 1 }), { message: /gridsize 2 needs at least 4 scan positions, the data has 3/ });
  t.throws(() => groupPositions(x, y.subarray(0, 9), { gridsize: 1, nGroups: 1 }), { message: /xcoords has 10 positions but ycoords 9/ });
  for (const bad of [NaN, Infinity]) {
    const ys = Float64Array.from(y);
    ys[4] = bad;
    t.throws(() => groupPositions(x, ys, { gridsize: 1, nGroups: 5 }), { message: new RegExp(`scan position 4 is not finite: \\(x, y\\) = \\(.*, ${bad}\\)`) });
  }
  t.throws(() => groupPositions(x, y, { gridsize: 1, nGroups: 5, seed: -3 }), { message: /seed must be an integer/ });
});

test('100,000 positions group in well under O(n^2) time', (t) => {
  const { x, y } = randomPositions(100_000, 8);
  const started = performance.now();
  const g = groupPositions(x, y, { gridsize: 2, nGroups: 50_000 });
  const seconds = (performance.now() - started) / 1000;
  t.log(`grouped 100,000 positions into ${g.count} groups of 4 (K = 4) in ${seconds.toFixed(2)} s`);
  t.is(g.count, 50_000);
  t.true(seconds < 10);
});
