import test from 'ava';
import { KdTree, groupPositions } from '../lib/grouping.js';
import { Rng } from '../lib/random.js';

function randomPositions(n: number, seed: number) {
  const rng = new Rng(seed);
  return { x: Float64Array.from({ length: n }, () => 500 * rng.next()), y: Float64Array.from({ length: n }, () => 500 * rng.next()) };
}

function bruteForce(x: Float64Array, y: Float64Array, qx: number, qy: number, k: number): number[] {
  return Array.from(x.keys())
    .map((i) => ({ i, d: (x[i] - qx) ** 2 + (y[i] - qy) ** 2 }))
    .sort((a, b) => a.d - b.d || a.i - b.i).slice(0, k).map((e) => e.i);
}

test('k nearest neighbours equal brute force, on random points and on a raster full of ties', (t) => {
  const random = randomPositions(2000, 1);
  const raster = { x: new Float64Array(900), y: new Float64Array(900) };
  for (let i = 0; i < 900; i++) { raster.x[i] = 3 * (i % 30); raster.y[i] = 3 * Math.floor(i / 30); }
  for (const { x, y } of [random, raster]) {
    const tree = new KdTree(x, y);
    const rng = new Rng(2);
    for (let q = 0; q < 200; q++) {
      const [qx, qy] = q % 2 ? [x[q], y[q]] : [90 * rng.next(), 90 * rng.next()];
      t.deepEqual(Array.from(tree.nearest(qx, qy, 7)), bruteForce(x, y, qx, qy, 7));
    }
  }
});

test('gridsize 1 with every position wanted keeps file order; fewer are a seeded subset', (t) => {
  const { x, y } = randomPositions(50, 3);
  const all = groupPositions(x, y, { gridsize: 1, nGroups: 80 });
  t.deepEqual(Array.from(all.indices), Array.from({ length: 50 }, (_, i) => i));
  t.true(all.offsets.every((v) => v === 0));
  t.regex(all.warnings[0], /n_groups 80 exceeds the 50 scan positions: making 50 groups \(--oversample/);
  const some = groupPositions(x, y, { gridsize: 1, nGroups: 20, seed: 9 });
  t.is(new Set(some.indices).size, 20);
  t.deepEqual(some.indices, groupPositions(x, y, { gridsize: 1, nGroups: 20, seed: 9 }).indices);
  t.notDeepEqual(some.indices, groupPositions(x, y, { gridsize: 1, nGroups: 20, seed: 10 }).indices);
});

test('gridsize 2 groups are distinct near neighbours with offsets from their centroid', (t) => {
  const { x, y } = randomPositions(400, 4);
  const g = groupPositions(x, y, { gridsize: 2, nGroups: 100, neighborCount: 6, seed: 5 });
  t.is(g.count, 100);
  t.deepEqual(g.indices, groupPositions(x, y, { gridsize: 2, nGroups: 100, neighborCount: 6, seed: 5 }).indices);
  for (let k = 0; k < g.count; k++) {
    const members = Array.from(g.indices.subarray(4 * k, 4 * k + 4));
    t.is(new Set(members).size, 4);
    const seed = g.seeds[k];
    t.true(members.every((m) => bruteForce(x, y, x[seed], y[seed], 6).includes(m)));
    let sx = 0;
    let sy = 0;
    members.forEach((m, j) => {
      const [dx, dy] = [g.offsets[2 * (4 * k + j)], g.offsets[2 * (4 * k + j) + 1]];
      t.true(Math.abs(x[m] - g.centroids[2 * k] - dx) < 1e-9 && Math.abs(y[m] - g.centroids[2 * k + 1] - dy) < 1e-9);
      sx += dx;
      sy += dy;
    });
    t.true(Math.abs(sx) < 1e-9 && Math.abs(sy) < 1e-9);
  }
});

test('oversampling makes more groups than positions, with repeated seeds', (t) => {
  const { x, y } = randomPositions(30, 6);
  const g = groupPositions(x, y, { gridsize: 2, nGroups: 100, oversample: true });
  t.is(g.count, 100);
  t.deepEqual(g.warnings, []);
});

test('impossible options are refused, naming the option', (t) => {
  const { x, y } = randomPositions(10, 7);
  t.throws(() => groupPositions(x, y, { gridsize: 2, nGroups: 5, neighborCount: 3 }), { message: /neighbor_count \(3\) must be an integer of at least gridsize\^2 = 4/ });
  t.throws(() => groupPositions(x, y, { gridsize: 2, nGroups: 5, neighborCount: 11 }), { message: /neighbor_count \(11\) exceeds the 10 positions/ });
  t.throws(() => groupPositions(x, y, { gridsize: 5, nGroups: 5 }), { message: /gridsize must be an integer from 1 to 4/ });
  t.throws(() => groupPositions(x, y, { gridsize: 1, nGroups: 0 }), { message: /n_groups must be a positive integer/ });
  t.throws(() => groupPositions(x.subarray(0, 3), y.subarray(0, 3), { gridsize: 2, nGroups: 1 }), { message: /needs at least 4 positions/ });
  const bad = Float64Array.from(x);
  bad[4] = NaN;
  t.throws(() => groupPositions(bad, y, { gridsize: 1, nGroups: 5 }), { message: /position 4 is not finite/ });
});

test('100,000 positions group in well under O(n^2) time', (t) => {
  const { x, y } = randomPositions(100_000, 8);
  const started = performance.now();
  const g = groupPositions(x, y, { gridsize: 2, nGroups: 50_000 });
  const seconds = (performance.now() - started) / 1000;
  t.log(`grouped 100,000 positions into ${g.count} groups of 4 in ${seconds.toFixed(2)} s`);
  t.is(g.count, 50_000);
  t.true(seconds < 10);
});
