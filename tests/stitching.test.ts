import test from 'ava';
import type { ComplexArray } from '../lib/ndarray.js';
import { mergeGroup } from '../lib/physics.js';
import { extractPatches, stitch } from '../lib/stitching.js';
import { seeded } from './helpers/random.js';

function randomObject(h: number, w: number, seed: number): ComplexArray {
  const rand = seeded(seed);
  return { dtype: 'complex64', shape: [h, w], data: Float32Array.from({ length: 2 * h * w }, () => rand() - 0.5) };
}

// A smooth complex object, known at any real coordinate: for sub-pixel checks.
const smooth = (r: number, c: number): [number, number] => {
  const amp = 1 + 0.3 * Math.sin(r / 7) * Math.cos(c / 9);
  const phase = 0.8 * Math.sin(r / 11 + c / 13);
  return [amp * Math.cos(phase), amp * Math.sin(phase)];
};

test('patches cut at whole-pixel positions stitch back to the object exactly', async (t) => {
  t.timeout(120_000);
  const [h, w, n] = [72, 80, 16];
  const object = randomObject(h, w, 5);
  const x: number[] = [];
  const y: number[] = [];
  for (let yy = 12; yy <= 60; yy += 6) for (let xx = 10; xx <= 70; xx += 5) { x.push(xx); y.push(yy); }
  // independent crops: patch (i, j) = object(y - n/2 + i, x - n/2 + j)
  const data = new Float32Array(2 * x.length * n * n);
  for (let k = 0; k < x.length; k++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const src = 2 * ((y[k] - n / 2 + i) * w + (x[k] - n / 2 + j));
        data.set(object.data.subarray(src, src + 2), 2 * ((k * n + i) * n + j));
      }
    }
  }
  const { object: out, origin } = await stitch({ dtype: 'complex64', shape: [x.length, n, n], data },
    Float64Array.from(x), Float64Array.from(y), { threads: 1 });
  t.deepEqual(origin, [12 - n / 2, 10 - n / 2]);
  const [oh, ow] = out.shape;
  let covered = 0;
  let worst = 0;
  for (let r = 0; r < oh; r++) {
    for (let c = 0; c < ow; c++) {
      const R = r + origin[0];
      const C = c + origin[1];
      // covered when some patch's central n/2 x n/2 holds (R, C)
      const inside = x.some((xx, k) => Math.abs(R - y[k] + 0.5) <= n / 4 && Math.abs(C - xx + 0.5) <= n / 4);
      const got = [out.data[2 * (r * ow + c)], out.data[2 * (r * ow + c) + 1]];
      if (inside) {
        covered++;
        const src = 2 * (R * w + C);
        worst = Math.max(worst, Math.abs(got[0] - object.data[src]), Math.abs(got[1] - object.data[src + 1]));
      } else {
        t.deepEqual(got, [0, 0], `pixel (${R}, ${C}) is outside every patch centre`);
      }
    }
  }
  t.true(covered > 2000);
  t.true(worst <= 1e-6, `max error ${worst}`);
});

test('extractPatches samples bilinearly between pixels', async (t) => {
  t.timeout(120_000);
  const [h, w, n] = [40, 44, 8];
  const object = randomObject(h, w, 9);
  const x = Float64Array.from([20.25, 15.5, 22]);
  const y = Float64Array.from([18.75, 21.1, 19]);
  const out = await extractPatches(object, x, y, n, { threads: 1 });
  t.deepEqual(out.shape, [3, n, n]);
  let worst = 0;
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const r = y[k] - n / 2 + i;
        const c = x[k] - n / 2 + j;
        const r0 = Math.floor(r);
        const c0 = Math.floor(c);
        const fr = r - r0;
        const fc = c - c0;
        for (let part = 0; part < 2; part++) {
          const at = (rr: number, cc: number) => object.data[2 * (rr * w + cc) + part];
          const expected = (1 - fr) * ((1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)) +
            fr * ((1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1));
          worst = Math.max(worst, Math.abs(out.data[2 * ((k * n + i) * n + j) + part] - expected));
        }
      }
    }
  }
  t.true(worst <= 1e-5, `max error ${worst}`);
});

test('patches at sub-pixel positions stitch back close to a smooth object', async (t) => {
  t.timeout(120_000);
  const n = 32;
  const rand = seeded(11);
  const x: number[] = [];
  const y: number[] = [];
  for (let yy = 30; yy <= 90; yy += 7) for (let xx = 30; xx <= 90; xx += 7) { x.push(xx + rand() - 0.5); y.push(yy + rand() - 0.5); }
  const data = new Float32Array(2 * x.length * n * n);
  for (let k = 0; k < x.length; k++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) data.set(smooth(y[k] - n / 2 + i, x[k] - n / 2 + j), 2 * ((k * n + i) * n + j));
    }
  }
  const { object, origin } = await stitch({ dtype: 'complex64', shape: [x.length, n, n], data },
    Float64Array.from(x), Float64Array.from(y));
  const [oh, ow] = object.shape;
  let worst = 0;
  let total = 0;
  let checked = 0;
  for (let r = 0; r < oh; r++) {
    for (let c = 0; c < ow; c++) {
      const R = r + origin[0];
      const C = c + origin[1];
      if (R < 36 || R > 84 || C < 36 || C > 84) continue; // the scanned interior
      const [re, im] = smooth(R, C);
      const error = Math.hypot(object.data[2 * (r * ow + c)] - re, object.data[2 * (r * ow + c) + 1] - im);
      worst = Math.max(worst, error);
      total += error;
      checked++;
    }
  }
  const mean = total / checked;
  t.log(`|error| over ${checked} interior pixels: mean ${mean.toExponential(2)}, max ${worst.toExponential(2)} (amplitude ~1, gradient ~0.1/pixel)`);
  t.true(checked > 2000);
  // bilinear splatting is unbiased to first order inside a patch centre; at the centre's edge a
  // pixel may get one sample only, off by up to a pixel fraction: hence the looser maximum
  t.true(mean < 4e-3);
  t.true(worst < 3e-2);
});

test('object_big with members at one position gives each patch back unchanged', async (t) => {
  t.timeout(120_000);
  const n = 16;
  const patches = randomObject(2 * 4 * n, n, 3); // reshaped below as (2, 4, n, n)
  const same: ComplexArray = { dtype: 'complex64', shape: [2, 4, n, n], data: new Float32Array(2 * 2 * 4 * n * n) };
  // every member of a group is the group's first patch, so the average is that patch
  for (let b = 0; b < 2; b++) {
    for (let c = 0; c < 4; c++) same.data.set(patches.data.subarray(2 * b * 4 * n * n, 2 * (b * 4 + 1) * n * n), 2 * (b * 4 + c) * n * n);
  }
  const out = await mergeGroup(same, new Float32Array(2 * 4 * 2));
  // the centre is the average of identical patches, the rest each member's own values
  let worst = 0;
  for (let k = 0; k < out.data.length; k++) worst = Math.max(worst, Math.abs(out.data[k] - same.data[k]));
  t.true(worst <= 1e-6, `max error ${worst}`);
});

test('object_big averages overlapping members, cuts each one back out at its offset and keeps its own values where no centre reaches', async (t) => {
  t.timeout(120_000);
  const n = 16;
  const offsets = [[-3, -2], [3, -2], [-3, 2], [3, 2]]; // (dx, dy), whole pixels
  const group = randomObject(4 * n, n, 8);
  const out = await mergeGroup({ dtype: 'complex64', shape: [1, 4, n, n], data: group.data },
    Float32Array.from(offsets.flat()));
  // independent reference on a canvas in centroid coordinates: member m's pixel (i, j) lies at
  // (dy + i - n/2, dx + j - n/2), and counts when (i, j) is in the central n/2 x n/2
  const sum = new Map<string, [number, number, number]>();
  const central = (i: number) => i >= n / 4 && i < (3 * n) / 4;
  offsets.forEach(([dx, dy], m) => {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (!central(i) || !central(j)) continue;
        const key = `${dy + i},${dx + j}`;
        const s = sum.get(key) ?? [0, 0, 0];
        const p = 2 * ((m * n + i) * n + j);
        sum.set(key, [s[0] + group.data[p], s[1] + group.data[p + 1], s[2] + 1]);
      }
    }
  });
  let worst = 0;
  offsets.forEach(([dx, dy], m) => {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const s = sum.get(`${dy + i},${dx + j}`);
        const p = 2 * ((m * n + i) * n + j);
        const expected = s ? [s[0] / s[2], s[1] / s[2]] : [group.data[p], group.data[p + 1]];
        worst = Math.max(worst, Math.abs(out.data[p] - expected[0]), Math.abs(out.data[p + 1] - expected[1]));
      }
    }
  });
  t.true(worst <= 1e-5, `max error ${worst}`);
});

test('phase alignment undoes unrelated phases of the groups, which a plain average cancels', async (t) => {
  t.timeout(120_000);
  const [h, w, n] = [96, 96, 16];
  const object: ComplexArray = { dtype: 'complex64', shape: [h, w], data: new Float32Array(2 * h * w) };
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) object.data.set(smooth(r, c), 2 * (r * w + c));
  const x: number[] = [];
  const y: number[] = [];
  for (let yy = 16; yy <= 80; yy += 4) for (let xx = 16; xx <= 80; xx += 4) { x.push(xx); y.push(yy); }
  const [px, py] = [Float64Array.from(x), Float64Array.from(y)];
  const patches = await extractPatches(object, px, py, n);
  // pairs of patches share a phase, as the members of a gridsize-2 group do
  const rand = seeded(9);
  const groups = Int32Array.from({ length: x.length }, (_, k) => k >> 1);
  const turns = Array.from({ length: x.length }, () => 2 * Math.PI * rand());
  const turned = { ...patches, data: Float32Array.from(patches.data) };
  for (let k = 0; k < x.length; k++) {
    const [c, s] = [Math.cos(turns[groups[k]]), Math.sin(turns[groups[k]])];
    for (let p = 2 * k * n * n; p < 2 * (k + 1) * n * n; p += 2) {
      const [re, im] = [patches.data[p], patches.data[p + 1]];
      turned.data[p] = c * re - s * im;
      turned.data[p + 1] = s * re + c * im;
    }
  }
  // the mean |object| over the well-covered middle, against the truth's
  const level = (o: ComplexArray, origin: [number, number]) => {
    let sum = 0;
    let count = 0;
    for (let r = 30; r < 66; r++) {
      for (let c = 30; c < 66; c++) {
        const k = 2 * ((r - origin[0]) * o.shape[1] + c - origin[1]);
        sum += Math.hypot(o.data[k], o.data[k + 1]);
        count++;
      }
    }
    return sum / count;
  };
  const truth = level(object, [0, 0]);
  const plain = await stitch(turned, px, py);
  const aligned = await stitch(turned, px, py, { align: { groups } });
  t.log(`mean amplitude: truth ${truth.toFixed(3)}, averaged as they come ${level(plain.object, plain.origin).toFixed(3)}, aligned ${level(aligned.object, aligned.origin).toFixed(3)}`);
  t.true(level(plain.object, plain.origin) < 0.7 * truth);
  t.true(Math.abs(level(aligned.object, aligned.origin) - truth) < 0.01 * truth);
  await t.throwsAsync(stitch(turned, px, py, { align: { groups: groups.subarray(1) } }), { message: /align\.groups must name the group of each/ });
});
