import test from 'ava';
import { interpolateSinebow, interpolateViridis } from 'd3-scale-chromatic';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { canWrite } from '../lib/font.js';
import {
  COLORBAR_EXTRA, formatLabel, formatTick, imageLayout, imageSize, renderImage, robustRange, writeImage,
} from '../lib/images.js';
import type { FloatArray } from '../lib/ndarray.js';

const float = (h: number, w: number, f: (r: number, c: number) => number): FloatArray => ({
  dtype: 'float32', shape: [h, w], data: Float32Array.from({ length: h * w }, (_, k) => f(Math.floor(k / w), k % w)),
});

// d3 answers '#rrggbb' (viridis) or 'rgb(r, g, b)' (sinebow)
function css(s: string): number[] {
  if (s.startsWith('#')) return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));
  return (/rgb\((\d+), (\d+), (\d+)\)/.exec(s) ?? []).slice(1).map(Number);
}

function decode(png: Buffer) {
  const image = PNG.sync.read(png);
  const rgba = (x: number, y: number) => Array.from(image.data.subarray(4 * (y * image.width + x), 4 * (y * image.width + x) + 4));
  return { width: image.width, height: image.height, rgb: (x: number, y: number) => rgba(x, y).slice(0, 3), rgba };
}

test('a ramp gets viridis from d3 at its ends, in the image and in the bar (top = max)', (t) => {
  const [h, w] = [30, 40];
  const image = float(h, w, (_, c) => c);
  const options = { range: [0, 39] as [number, number] };
  const { png, range } = renderImage(image, options);
  t.deepEqual(range, [0, 39]);
  const p = decode(png);
  const L = imageLayout(h, w, options);
  t.deepEqual({ width: p.width, height: p.height }, imageSize(h, w, options));
  const [min, max] = [css(interpolateViridis(0)), css(interpolateViridis(1))];
  t.notDeepEqual(min, max);
  // the middle of the first and of the last source column
  const mid = L.image.top + Math.floor(L.image.height / 2);
  t.deepEqual(p.rgb(L.image.left + 1, mid), min);
  t.deepEqual(p.rgb(L.image.left + L.image.width - 2, mid), max);
  t.deepEqual(p.rgb(L.bar.left + 5, L.bar.top), max);
  t.deepEqual(p.rgb(L.bar.left + 5, L.bar.top + L.bar.height - 1), min);
  // every pixel is opaque: masked pixels and background included
  for (let y = 0; y < p.height; y += 7) for (let x = 0; x < p.width; x += 7) t.is(p.rgba(x, y)[3], 255);
});

test('the cyclic map is d3 sinebow, whose ends are one colour', (t) => {
  const image = float(10, 64, (_, c) => -Math.PI + (2 * Math.PI * c) / 63);
  const options = { colormap: 'cyclic' as const, range: [-Math.PI, Math.PI] as [number, number] };
  const p = decode(renderImage(image, options).png);
  const L = imageLayout(10, 64, options);
  const y = L.image.top + 2;
  t.deepEqual(p.rgb(L.image.left, y), css(interpolateSinebow(0)));
  t.deepEqual(p.rgb(L.image.left + L.image.width - 1, y), css(interpolateSinebow(1)));
  t.deepEqual(css(interpolateSinebow(0)), css(interpolateSinebow(1)));
  // between the ends, d3's colour to within the table's resolution, and halfway round another colour
  for (const c of [16, 32, 47]) {
    const got = p.rgb(L.image.left + c * L.scale, y);
    const want = css(interpolateSinebow(c / 63));
    t.true(got.every((v, i) => Math.abs(v - want[i]) <= 2), `${c}: ${got} vs ${want}`);
  }
  t.notDeepEqual(p.rgb(L.image.left + 32 * L.scale, y), p.rgb(L.image.left, y));
});

test('masked pixels are opaque mid-grey, ignored by the range, and named in the legend', (t) => {
  const [h, w] = [20, 20];
  const mask = Uint8Array.from({ length: h * w }, (_, k) => (k % w < 10 ? 1 : 0));
  // the unscanned half holds wild values that must not stretch the colours
  const image = float(h, w, (r, c) => (c < 10 ? r + c : 1e6));
  const { png, range } = renderImage(image, { mask });
  t.deepEqual(range, robustRange(image, mask));
  t.true(range[1] < 100);
  const p = decode(png);
  const L = imageLayout(h, w, { mask });
  const at = (r: number, c: number) => p.rgba(L.image.left + c * L.scale + 1, L.image.top + r * L.scale + 1);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (c < 10) t.notDeepEqual(at(r, c), [128, 128, 128, 255]);
      else t.deepEqual(at(r, c), [128, 128, 128, 255]);
    }
  }
  // the legend's grey swatch, below the image; a mask adds a legend line
  let grey = 0;
  for (let y = L.image.top + L.image.height + 2; y < p.height; y++) {
    for (let x = 0; x < 40; x++) if (p.rgb(x, y).join() === '128,128,128') grey++;
  }
  t.true(grey >= 100, `${grey}`);
  t.true(imageSize(h, w, { mask }).height > imageSize(h, w).height);
});

test('NaN pixels are grey too; infinities take the ends of the map', (t) => {
  const image = float(4, 4, (r, c) => [NaN, Infinity, -Infinity][r * 4 + c] ?? r);
  const options = { range: [0, 3] as [number, number] };
  const p = decode(renderImage(image, options).png);
  const L = imageLayout(4, 4, options);
  const at = (c: number) => p.rgb(L.image.left + c * L.scale + 1, L.image.top + 1);
  t.deepEqual(at(0), [128, 128, 128]);
  t.deepEqual(at(1), css(interpolateViridis(1)));
  t.deepEqual(at(2), css(interpolateViridis(0)));
});

test('a 152 x 153 image is enlarged by a whole factor to >= 512, each source pixel one uniform block', (t) => {
  const [h, w] = [152, 153];
  // neighbours always differ, so a block edge in the wrong place would show
  const image = float(h, w, (r, c) => (r * 7 + c * 13) % 31);
  const options = { range: [0, 30] as [number, number] };
  const L = imageLayout(h, w, options);
  t.is(L.scale, 4);
  t.is(L.image.width, 612);
  t.is(L.image.height, 608);
  const p = decode(renderImage(image, options).png);
  t.deepEqual({ width: p.width, height: p.height }, imageSize(h, w, options));
  t.is(p.width, L.image.width + COLORBAR_EXTRA);
  let mismatches = 0;
  for (let y = 0; y < L.image.height; y++) {
    for (let x = 0; x < L.image.width; x++) {
      const corner = p.rgb(L.image.left + x - (x % 4), L.image.top + y - (y % 4));
      if (p.rgb(L.image.left + x, L.image.top + y).join() !== corner.join()) mismatches++;
    }
  }
  t.is(mismatches, 0);
  t.notDeepEqual(p.rgb(L.image.left, L.image.top), p.rgb(L.image.left + 4, L.image.top));
  t.notDeepEqual(p.rgb(L.image.left, L.image.top), p.rgb(L.image.left, L.image.top + 4));
  // never shrunk; minSize chooses the factor
  t.is(imageLayout(600, 700).scale, 1);
  t.is(imageLayout(152, 153, { minSize: 0 }).scale, 1);
  t.is(imageLayout(152, 153, { minSize: 1000 }).scale, 7);
  t.is(imageLayout(10, 3).scale, 52);
});

test('robustRange: interpolated percentiles of the finite values under the mask', (t) => {
  const ramp = float(1, 101, (_, c) => c); // 0 .. 100
  t.deepEqual(robustRange(ramp), [1, 99]);
  t.deepEqual(robustRange(ramp, undefined, [0.25, 0.75]), [25, 75]);
  t.deepEqual(robustRange(ramp, undefined, [0, 1]), [0, 100]);
  t.deepEqual(robustRange(float(1, 2, (_, c) => 10 * c), undefined, [0.25, 0.5]), [2.5, 5]);
  // outliers outside the mask and non-finite values do not count
  const data = float(1, 103, (_, c) => (c <= 100 ? c : 1e9));
  data.data[50] = NaN;
  const mask = Uint8Array.from({ length: 103 }, (_, c) => (c <= 100 ? 1 : 0));
  const [lo, hi] = robustRange(data, mask);
  t.true(Math.abs(lo - 1) < 0.02 && Math.abs(hi - 99) < 0.02, `${lo}, ${hi}`);
  t.true(robustRange(data)[1] > 1e6);
  // a flat image still gets an interval around its value
  const [a, b] = robustRange(float(3, 3, () => 5));
  t.true(a < 5 && b > 5 && b - a < 1);
  const [z0, z1] = robustRange(float(3, 3, () => 0));
  t.true(z0 < 0 && z1 > 0);
  t.deepEqual(robustRange(float(2, 2, () => NaN)), [0, 1]);
  t.throws(() => robustRange(ramp, new Uint8Array(5)), { name: 'ArgumentError' });
});

test('a stated range clips: values beyond it take the end colours', (t) => {
  const image = float(1, 4, (_, c) => [-10, -1, 1, 10][c]);
  const options = { range: [-1, 1] as [number, number] };
  const { png, range } = renderImage(image, options);
  t.deepEqual(range, [-1, 1]);
  const p = decode(png);
  const L = imageLayout(1, 4, options);
  const at = (c: number) => p.rgb(L.image.left + c * L.scale, L.image.top);
  t.deepEqual(at(0), css(interpolateViridis(0)));
  t.deepEqual(at(1), css(interpolateViridis(0)));
  t.deepEqual(at(2), css(interpolateViridis(1)));
  t.deepEqual(at(3), css(interpolateViridis(1)));
  t.throws(() => renderImage(image, { range: [1, -1] }), { name: 'ArgumentError' });
});

// the rows of the PNG between top and bottom, within columns x0..x1, that hold any black pixel,
// grouped into runs: one run per line of text
function textRuns(p: ReturnType<typeof decode>, x0: number, x1: number, top: number, bottom: number): number {
  let runs = 0;
  let inRun = false;
  for (let y = top; y < bottom; y++) {
    let dark = false;
    for (let x = x0; x < x1 && !dark; x++) dark = p.rgb(x, y).join() === '0,0,0';
    if (dark && !inRun) runs++;
    inRun = dark;
  }
  return runs;
}

test('the colour bar has at least three labels, the units below it and the title above the image', (t) => {
  for (const [range, colormap] of [[[0, 1], 'viridis'], [[-Math.PI, Math.PI], 'cyclic'], [[0.0213, 0.987], 'viridis']] as const) {
    const options = { range: [range[0], range[1]] as [number, number], colormap, units: 'rad', title: 'phase (offset removed)' };
    const p = decode(renderImage(float(50, 60, (r) => r / 50), options).png);
    const L = imageLayout(50, 60, options);
    const labels = L.bar.left + L.bar.width + 8;
    const runs = textRuns(p, labels, p.width, L.bar.top - 8, L.bar.top + L.bar.height + 8);
    t.true(runs >= 3 && runs <= 10, `${runs} labels for ${range}`);
    t.is(textRuns(p, L.bar.left, p.width, L.bar.top + L.bar.height + 9, L.bar.top + L.bar.height + 30), 1, 'units');
    t.is(textRuns(p, 0, L.bar.left, 0, L.image.top - 2), 1, 'title');
  }
  const plain = imageLayout(50, 60);
  t.true(imageLayout(50, 60, { title: 'x' }).image.top > plain.image.top);
  // a bar at least as tall as the image, however short the image
  t.true(plain.bar.height >= plain.image.height);
  t.true(imageLayout(5, 600).bar.height >= 150);
  t.is(imageLayout(600, 700).bar.height, 600);
});

test('the PNG size is known from the options alone', (t) => {
  const options = { units: 'a.u.', title: 'amplitude', mask: new Uint8Array(152 * 153).fill(1) };
  const size = imageSize(152, 153, options);
  const p = decode(renderImage(float(152, 153, (r, c) => r * c), options).png);
  t.deepEqual({ width: p.width, height: p.height }, size);
  t.is(size.width, 4 * 153 + COLORBAR_EXTRA);
  const long = { title: 'a title much longer than the image is wide, which has to be wrapped onto more lines' };
  const small = decode(renderImage(float(8, 8, () => 1), long).png);
  t.deepEqual({ width: small.width, height: small.height }, imageSize(8, 8, long));
});

test('labels are short and every character they use has a glyph', (t) => {
  t.is(formatLabel(Math.PI), '3.14');
  t.is(formatLabel(123456789), '1.23e+8');
  t.is(formatLabel(-0.000123456), '-1.2e-4');
  t.is(formatTick(0.1 + 0.2, 0.1), '0.3');
  t.is(formatTick(0.05, 0.05), '0.05');
  t.is(formatTick(2e-4, 1e-4), '2e-4');
  t.is(formatTick(250000, 50000), '2.5e5');
  t.is(formatTick(-40, 20), '-40');
  t.true(canWrite('0123456789 .-+(),:/%_=π abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'));
  t.false(canWrite('\u0007'));
});

test('writeImage writes the PNG in place of the old one and returns its range', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'images-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'a.png');
  const image = float(12, 16, (r, c) => r + c);
  const range = await writeImage(path, image, { units: 'a.u.' });
  t.deepEqual(range, robustRange(image));
  const again = await writeImage(path, image, { range: [0, 1] });
  t.deepEqual(again, [0, 1]);
  const p = decode(await readFile(path));
  t.deepEqual({ width: p.width, height: p.height }, imageSize(12, 16, { range: [0, 1] }));
  t.deepEqual(await readdir(dir), ['a.png']);
});
