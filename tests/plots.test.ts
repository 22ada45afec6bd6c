import test from 'ava';
import { schemeTableau10 } from 'd3-scale-chromatic';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { type PlotSpec, plotFrame, renderPlot, seriesColor, writePlot } from '../lib/plots.js';

const hex = (s: string) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));

function decode(png: Buffer) {
  const image = PNG.sync.read(png);
  const rgb = (x: number, y: number) => Array.from(image.data.subarray(4 * (y * image.width + x), 4 * (y * image.width + x) + 3));
  return { width: image.width, height: image.height, rgb };
}

// whether any pixel within `radius` of (x, y) has the colour
function near(p: ReturnType<typeof decode>, x: number, y: number, colour: readonly number[], radius = 1): boolean {
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) if (p.rgb(Math.round(x) + dx, Math.round(y) + dy).join() === colour.join()) return true;
  }
  return false;
}

const inside = (b: { left: number; top: number; width: number; height: number }, x: number, y: number) =>
  x >= b.left - 4 && x <= b.left + b.width + 4 && y >= b.top - 4 && y <= b.top + b.height + 4;

test('a plot has the requested size, 640 x 420 by default', (t) => {
  const series = [{ label: 'a', x: [0, 1], y: [0, 1] }];
  const p = decode(renderPlot({ xLabel: 'x', yLabel: 'y', series }));
  t.deepEqual([p.width, p.height], [640, 420]);
  const q = decode(renderPlot({ xLabel: 'x', yLabel: 'y', series, width: 500, height: 300 }));
  t.deepEqual([q.width, q.height], [500, 300]);
  t.throws(() => renderPlot({ xLabel: 'x', yLabel: 'y', series, width: 10 }), { name: 'ArgumentError' });
  t.throws(() => renderPlot({ xLabel: 'x', yLabel: 'y', series: [{ label: 'a', x: [0, 1], y: [0] }] }), { name: 'ArgumentError' });
});

test('the series colour is drawn where its points lie, and along the line between them', (t) => {
  const x = Array.from({ length: 41 }, (_, i) => i / 80);
  const spec: PlotSpec = {
    xLabel: 'spatial frequency (cycles/pixel)', yLabel: 'FRC', xRange: [0, 0.5], yRange: [0, 1],
    series: [{ label: 'amplitude', x, y: x.map((f) => 1 - 2 * f) }, { label: 'phase', x, y: x.map(() => 0.5) }],
  };
  const frame = plotFrame(spec);
  const p = decode(renderPlot(spec));
  const [first, second] = [hex(schemeTableau10[0]), hex(schemeTableau10[1])];
  t.deepEqual([...seriesColor(spec, 0)], first);
  t.deepEqual([...seriesColor(spec, 1)], second);
  t.notDeepEqual(first, second);
  for (const f of [0.1, 0.2, 0.3, 0.4]) {
    t.false(inside(frame.legend, frame.x(f), frame.y(1 - 2 * f)));
    t.true(near(p, frame.x(f), frame.y(1 - 2 * f), first), `amplitude at ${f}`);
    t.false(near(p, frame.x(f), frame.y(1 - 2 * f) - 40, first), `nothing above the line at ${f}`);
  }
  // halfway between two points of the flat series, off the markers (41 points: no markers)
  t.true(near(p, frame.x(0.0125 + 0.00625), frame.y(0.5), second, 0));
  // the axes are the requested ones, with round ticks
  t.deepEqual(frame.xTicks.map((k) => k.label), ['0', '0.1', '0.2', '0.3', '0.4', '0.5']);
  t.deepEqual(frame.yTicks.filter((k) => k.value === 0 || k.value === 1).map((k) => k.label), ['0', '1.0']);
  t.is(frame.x(0), frame.area.left);
  t.is(frame.y(0), frame.area.top + frame.area.height - 1);
});

test('a null or non-finite value breaks the line; a point between two gaps still shows', (t) => {
  const spec: PlotSpec = {
    xLabel: 'epoch', yLabel: 'loss', xRange: [0, 8], yRange: [0, 2],
    series: [{ label: 'train', x: [0, 1, 2, 3, 4, 5, 6, 7, 8], y: [1, 1, null, 1, 1, NaN, 1, Infinity, 1] }],
  };
  const frame = plotFrame(spec);
  const p = decode(renderPlot(spec));
  const colour = [...seriesColor(spec, 0)];
  const row = frame.y(1);
  t.false(inside(frame.legend, frame.x(0), row) || inside(frame.legend, frame.x(8), row));
  // joined from 0 to 1 and from 3 to 4
  t.true(near(p, frame.x(0.5), row, colour, 0));
  t.true(near(p, frame.x(3.5), row, colour, 0));
  // no line across the null at 2, the NaN at 5 or the infinity at 7
  for (const [a, b] of [[1, 3], [4, 6], [6, 8]]) {
    for (let x = Math.round(frame.x(a)) + 7; x <= Math.round(frame.x(b)) - 7; x++) {
      t.false(near(p, x, row, colour, 2), `a line between ${a} and ${b}, at column ${x}`);
    }
  }
  // the point at 6 has no neighbour but is marked
  t.true(near(p, frame.x(6), row, colour, 0));
});

test('a dashed series has gaps along a straight run; reference lines are drawn and labelled', (t) => {
  const x = Array.from({ length: 51 }, (_, i) => i / 100);
  const spec: PlotSpec = {
    xLabel: 'f', yLabel: 'FRC', xRange: [0, 0.5], yRange: [0, 1],
    series: [{ label: 'half-bit', x, y: x.map(() => 0.3), dashed: true, color: [200, 0, 0] }],
    hLines: [{ y: 1 / 7, label: '1/7' }],
  };
  const frame = plotFrame(spec);
  const p = decode(renderPlot(spec));
  const row = Math.round(frame.y(0.3));
  let on = 0;
  let off = 0;
  for (let c = frame.area.left + 2; c < frame.area.left + frame.area.width - 2; c++) {
    if (p.rgb(c, row).join() === '200,0,0') on++;
    else off++;
  }
  t.true(on > 100 && off > 50, `${on} on, ${off} off`);
  const ref = Math.round(frame.y(1 / 7));
  let grey = 0;
  for (let c = frame.area.left; c < frame.area.left + frame.area.width; c++) if (p.rgb(c, ref).join() === '110,110,110') grey++;
  t.true(grey > 100, `${grey}`);
});

test('a log axis has its ticks at decades, and draws only positive values', (t) => {
  const epochs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const spec: PlotSpec = {
    xLabel: 'epoch', yLabel: 'loss', logY: true,
    series: [{ label: 'train', x: epochs, y: epochs.map((e) => 0.5 / e ** 1.5) }, { label: 'validation', x: epochs, y: epochs.map((e) => (e === 5 ? 0 : 0.6 / e)) }],
  };
  const frame = plotFrame(spec);
  t.true(frame.yDomain[0] <= 0.5 / 10 ** 1.5 && frame.yDomain[1] >= 0.6);
  const major = frame.yTicks.filter((k) => !k.minor);
  t.deepEqual(major.map((k) => k.label), ['0.01', '0.1', '1']);
  t.true(frame.yTicks.some((k) => k.minor && Math.abs(k.value - 0.05) < 1e-12));
  // a decade spans the same height wherever it is
  t.true(Math.abs((frame.y(0.01) - frame.y(0.1)) - (frame.y(0.1) - frame.y(1))) < 1e-9);
  const p = decode(renderPlot(spec));
  const validation = [...seriesColor(spec, 1)];
  t.true(near(p, frame.x(2), frame.y(0.3), validation, 1));
  // the zero at epoch 5 breaks the validation line rather than reaching for minus infinity
  const between = (frame.x(4) + frame.x(6)) / 2;
  for (let y = frame.area.top; y < frame.area.top + frame.area.height; y++) t.false(near(p, between, y, validation, 0), `row ${y}`);
  t.throws(() => plotFrame({ ...spec, yRange: [0, 1] }), { name: 'ArgumentError' });
});

test('the legend sits in the emptiest corner and shows each series', (t) => {
  const x = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  // a line through the upper right: the legend must go elsewhere
  const spec: PlotSpec = { xLabel: 'x', yLabel: 'y', xRange: [0, 10], yRange: [0, 10], series: [{ label: 'rising', x, y: x }, { label: 'high', x: [6, 10], y: [9, 9] }] };
  const frame = plotFrame(spec);
  t.false(frame.legend.left > frame.area.left + frame.area.width / 2 && frame.legend.top < frame.area.top + frame.area.height / 2);
  const p = decode(renderPlot(spec));
  for (const i of [0, 1]) {
    let found = false;
    for (let y = frame.legend.top; y < frame.legend.top + frame.legend.height && !found; y++) {
      for (let c = frame.legend.left; c < frame.legend.left + 40 && !found; c++) found = p.rgb(c, y).join() === [...seriesColor(spec, i)].join();
    }
    t.true(found, `legend sample of series ${i}`);
  }
});

test('writePlot writes a PNG atomically', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'plots-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'loss.png');
  await writePlot(path, { title: 'training', xLabel: 'epoch', yLabel: 'loss', logY: true, width: 300, height: 200, series: [{ label: 'train', x: [1, 2, 3], y: [1, 0.5, 0.2] }] });
  const p = decode(await readFile(path));
  t.deepEqual([p.width, p.height], [300, 200]);
  t.deepEqual(await readdir(dir), ['loss.png']);
});
