import test from 'ava';
import { PNG } from 'pngjs';
import { COLORBAR_EXTRA, formatLabel, renderImage } from '../lib/images.js';

test('an image renders at its size plus the colour bar, with viridis at both ends', (t) => {
  const [h, w] = [30, 40];
  const data = Float32Array.from({ length: h * w }, (_, k) => k % w); // 0 .. 39 along each row
  const { png, range } = renderImage({ dtype: 'float32', shape: [h, w], data });
  t.deepEqual(range, [0, 39]);
  const image = PNG.sync.read(png);
  t.is(image.width, w + COLORBAR_EXTRA);
  t.is(image.height, h);
  const rgb = (r: number, c: number) => Array.from(image.data.subarray(4 * (r * image.width + c), 4 * (r * image.width + c) + 3));
  // the polynomial fit stays within a few levels of the table
  const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 4);
  // matplotlib's viridis: (68, 1, 84) at 0 and (253, 231, 37) at 1
  t.true(close(rgb(5, 0), [68, 1, 84]), `${rgb(5, 0)}`);
  t.true(close(rgb(5, w - 1), [253, 231, 37]), `${rgb(5, w - 1)}`);
  // the bar runs from the maximum at the top to the minimum at the bottom
  t.true(close(rgb(0, w + 8), [253, 231, 37]));
  t.true(close(rgb(h - 1, w + 8), [68, 1, 84]));
});

test('a stated range clips, and labels stay short', (t) => {
  const data = Float32Array.from([-10, 0, 10, NaN]);
  const { range } = renderImage({ dtype: 'float32', shape: [2, 2], data }, { range: [-Math.PI, Math.PI], colormap: 'cyclic' });
  t.deepEqual(range, [-Math.PI, Math.PI]);
  t.is(formatLabel(Math.PI), '3.14');
  t.is(formatLabel(123456789), '1.23e+8');
  t.is(formatLabel(-0.000123456), '-1.2e-4'); // at most 8 characters beside the bar
});
