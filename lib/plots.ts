// Line plots as PNGs (training loss against epoch, FRC against spatial frequency): axes with round
// ticks, grid, legend, dashed and broken lines, in the bitmap font the images use.
import { writeFile } from 'node:fs/promises';
import { schemeTableau10 } from 'd3-scale-chromatic';
import { writeAtomically } from './atomic.js';
import { ArgumentError } from './errors.js';
import { BLACK, Raster, type Rgb, drawText, lineHeight, textHeight, textWidth, wrapText } from './font.js';
import { type Box, formatTick, niceStep } from './images.js';

/** One line of a plot. */
export interface PlotSeries {
  label: string;
  x: number[];
  /** null, non-finite (and, on a log axis, non-positive) values break the line. */
  y: (number | null)[];
  dashed?: boolean;
  color?: [number, number, number];
}

/** A line plot: series, axes and title. */
export interface PlotSpec {
  title?: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  /** Of the whole PNG (defaults 640 x 420). */
  width?: number;
  height?: number;
  series: PlotSeries[];
  /** Labelled horizontal reference lines, e.g. a threshold. */
  hLines?: { y: number; label: string }[];
  /** Axis ends; without them the data's extent rounded out to round numbers. */
  xRange?: [number, number];
  yRange?: [number, number];
}

export interface PlotFrame {
  width: number;
  height: number;
  /** The plotting area; the axes' frame lies just outside it. */
  area: Box;
  xDomain: [number, number];
  yDomain: [number, number];
  /** Pixel column of the value v on the x axis (fractional: round it). */
  x(v: number): number;
  /** Pixel row of the value v on the y axis (fractional: round it). */
  y(v: number): number;
  xTicks: Tick[];
  yTicks: Tick[];
  /** Where the legend's box goes, inside the area, over the fewest data. */
  legend: Box;
}

export interface Tick { value: number; label: string; minor?: boolean }

const PAD = 12;
const TICK = 5;
const GRID: Rgb = [225, 225, 225];
const REFERENCE: Rgb = [110, 110, 110];
const LINE_WIDTH = 2;
const DASH = [10, 6];
// few enough points that each can be told apart: mark them
const MARKED_POINTS = 30;
const SAMPLE = 28;

const TABLEAU: Rgb[] = schemeTableau10.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]);

/** The colour a series gets: its own, or the i-th of Tableau 10. */
export function seriesColor(spec: PlotSpec, i: number): Rgb {
  return spec.series[i].color ?? TABLEAU[i % TABLEAU.length];
}

function valid(x: number, y: number | null, logY: boolean): y is number {
  return Number.isFinite(x) && y !== null && Number.isFinite(y) && (!logY || y > 0);
}

function extent(values: number[]): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return lo <= hi ? [lo, hi] : undefined;
}

function niceLinear(lo: number, hi: number, count: number): [number, number] {
  if (lo === hi) [lo, hi] = lo === 0 ? [-1, 1] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
  const step = niceStep(lo, hi, count);
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
}

// out to the next 1, 2 or 5 times a power of ten, so a loss curve does not float in a wasted decade
function niceLog(lo: number, hi: number): [number, number] {
  if (lo === hi) [lo, hi] = [lo / 2, hi * 2];
  const down = (v: number) => {
    const p = 10 ** Math.floor(Math.log10(v) + 1e-9);
    return [5, 2, 1].map((m) => m * p).find((c) => c <= v * (1 + 1e-9)) ?? p;
  };
  const up = (v: number) => {
    const p = 10 ** Math.floor(Math.log10(v) - 1e-9);
    return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v * (1 - 1e-9)) ?? 10 * p;
  };
  return [down(lo), up(hi)];
}

function linearTicks(lo: number, hi: number, count: number): Tick[] {
  const step = niceStep(lo, hi, count);
  const ticks: Tick[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push({ value: k * step, label: formatTick(k * step, step) });
  return ticks;
}

function formatLog(v: number): string {
  if (v >= 1e-3 && v < 1e5) return String(Number(v.toPrecision(6)));
  const [mantissa, exponent] = v.toExponential(0).split('e');
  return `${mantissa}e${Number(exponent)}`;
}

function logTicks(lo: number, hi: number, maxLabels: number): Tick[] {
  const first = Math.floor(Math.log10(lo) + 1e-9);
  const last = Math.ceil(Math.log10(hi) - 1e-9);
  const inside = (v: number) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  const candidates = (multiples: number[]) => {
    const out: number[] = [];
    for (let e = first; e <= last; e++) for (const m of multiples) if (inside(m * 10 ** e)) out.push(m * 10 ** e);
    return out;
  };
  const decades = candidates([1]);
  let labelled = decades;
  if (decades.length < 2) labelled = candidates([1, 2, 5]);
  if (labelled.length < 3) labelled = candidates([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  if (labelled.length > maxLabels) {
    const every = Math.ceil(labelled.length / maxLabels);
    labelled = labelled.filter((v) => Math.round(Math.log10(v)) % every === 0);
  }
  const ticks: Tick[] = labelled.map((v) => ({ value: v, label: formatLog(v) }));
  if (last - first <= 12) {
    for (const v of candidates([1, 2, 3, 4, 5, 6, 7, 8, 9])) {
      if (!labelled.some((l) => Math.abs(l - v) <= v * 1e-9)) ticks.push({ value: v, label: '', minor: true });
    }
  }
  return ticks;
}

function checkSpec(spec: PlotSpec): { width: number; height: number; logY: boolean } {
  const width = spec.width ?? 640;
  const height = spec.height ?? 420;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 200 && height >= 150 && width * height <= 1e8)) {
    throw new ArgumentError(`a plot must be whole pixels, at least 200 x 150, not ${width} x ${height}`);
  }
  const logY = spec.logY ?? false;
  for (const s of spec.series) {
    if (s.x.length !== s.y.length) throw new ArgumentError(`series '${s.label}' has ${s.x.length} x value(s) and ${s.y.length} y value(s)`);
  }
  for (const [name, r] of [['xRange', spec.xRange], ['yRange', spec.yRange]] as const) {
    if (r && !(Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] < r[1])) throw new ArgumentError(`${name} must be two finite numbers, low first, not [${r}]`);
  }
  if (logY && spec.yRange && spec.yRange[0] <= 0) throw new ArgumentError(`a log y axis needs a positive yRange, not [${spec.yRange}]`);
  return { width, height, logY };
}

function legendSize(spec: PlotSpec): { width: number; height: number } {
  const labels = spec.series.map((s) => s.label).filter((l) => l !== '');
  if (labels.length === 0) return { width: 0, height: 0 };
  return {
    width: 8 + SAMPLE + 8 + Math.max(...labels.map((l) => textWidth(l))) + 8,
    height: 6 + labels.length * lineHeight() - (lineHeight() - textHeight()) + 6,
  };
}

/** Where renderPlot draws what: the plotting area, the axes' scales and ticks, the legend's box. */
export function plotFrame(spec: PlotSpec): PlotFrame {
  const { width, height, logY } = checkSpec(spec);
  const titleLines = spec.title ? wrapText(spec.title, width - 2 * PAD) : [];
  const top = PAD + (titleLines.length > 0 ? titleLines.length * lineHeight() + 4 : Math.ceil(textHeight() / 2));
  const bottom = height - (PAD + textHeight() + 8 + textHeight() + 4 + TICK);
  const areaHeight = bottom - top;

  const ys: number[] = [];
  const xs: number[] = [];
  for (const s of spec.series) {
    s.x.forEach((x, i) => {
      const y = s.y[i];
      if (valid(x, y, logY)) { xs.push(x); ys.push(y); }
    });
  }
  for (const h of spec.hLines ?? []) if (Number.isFinite(h.y) && (!logY || h.y > 0)) ys.push(h.y);
  const yCount = Math.max(2, Math.round(areaHeight / 50));
  const yData = extent(ys) ?? (logY ? [1, 10] : [0, 1]);
  const yDomain: [number, number] = spec.yRange ?? (logY ? niceLog(yData[0], yData[1]) : niceLinear(yData[0], yData[1], yCount));
  const yTicks = logY ? logTicks(yDomain[0], yDomain[1], Math.max(2, Math.floor(areaHeight / 30))) : linearTicks(yDomain[0], yDomain[1], yCount);

  const yLabelWidth = Math.max(0, ...yTicks.map((t) => textWidth(t.label)));
  const left = PAD + textHeight() + 8 + yLabelWidth + 4 + TICK;
  const xData = extent(xs) ?? [0, 1];
  let right = width - PAD - 16;
  let xDomain: [number, number] = [0, 1];
  let xTicks: Tick[] = [];
  // twice: the last tick label, centred on the area's right edge, decides the right margin
  for (let pass = 0; pass < 2; pass++) {
    const xCount = Math.max(2, Math.round((right - left) / 90));
    xDomain = spec.xRange ?? niceLinear(xData[0], xData[1], xCount);
    xTicks = linearTicks(xDomain[0], xDomain[1], xCount);
    const lastLabel = xTicks.length > 0 ? textWidth(xTicks[xTicks.length - 1].label) : 0;
    right = width - Math.max(PAD, Math.ceil(lastLabel / 2) + 4);
  }
  const area: Box = { left, top, width: right - left, height: areaHeight };
  const f = logY ? Math.log10 : (v: number) => v;
  const [fy0, fy1] = [f(yDomain[0]), f(yDomain[1])];
  const x = (v: number) => area.left + ((v - xDomain[0]) / (xDomain[1] - xDomain[0])) * (area.width - 1);
  const y = (v: number) => area.top + (1 - (f(v) - fy0) / (fy1 - fy0)) * (area.height - 1);

  const size = legendSize(spec);
  const inset = 8;
  const corners = [
    [area.left + area.width - inset - size.width, area.top + inset],
    [area.left + inset, area.top + inset],
    [area.left + area.width - inset - size.width, area.top + area.height - inset - size.height],
    [area.left + inset, area.top + area.height - inset - size.height],
  ];
  // sample the lines, not only their points: a legend over a steep segment hides it as much
  const covered = (cx: number, cy: number) => {
    let n = 0;
    const inBox = (px: number, py: number) => px >= cx && px <= cx + size.width && py >= cy && py <= cy + size.height;
    for (const s of spec.series) {
      for (let i = 0; i < s.x.length; i++) {
        const yi = s.y[i];
        if (!valid(s.x[i], yi, logY)) continue;
        if (inBox(x(s.x[i]), y(yi))) n++;
        const yj = s.y[i + 1];
        if (i + 1 < s.x.length && valid(s.x[i + 1], yj, logY)) {
          for (let k = 1; k < 8; k++) {
            const t = k / 8;
            if (inBox(x(s.x[i]) * (1 - t) + x(s.x[i + 1]) * t, y(yi) * (1 - t) + y(yj) * t)) n++;
          }
        }
      }
    }
    return n;
  };
  let best = corners[0];
  let fewest = Infinity;
  for (const c of corners) {
    const n = covered(c[0], c[1]);
    if (n < fewest) { fewest = n; best = c; }
  }
  const legend: Box = { left: Math.round(best[0]), top: Math.round(best[1]), width: size.width, height: size.height };
  return { width, height, area, xDomain, yDomain, x, y, xTicks, yTicks, legend };
}

// Liang-Barsky: the part of the segment inside the box, or nothing
function clip(x0: number, y0: number, x1: number, y1: number, b: Box): [number, number, number, number] | undefined {
  const [dx, dy] = [x1 - x0, y1 - y0];
  let [t0, t1] = [0, 1];
  const edges: [number, number][] = [
    [-dx, x0 - b.left], [dx, b.left + b.width - 1 - x0], [-dy, y0 - b.top], [dy, b.top + b.height - 1 - y0],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return undefined;
    } else {
      const t = q / p;
      if (p < 0) { if (t > t1) return undefined; t0 = Math.max(t0, t); } else { if (t < t0) return undefined; t1 = Math.min(t1, t); }
    }
  }
  return [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy];
}

/** A pen that remembers how far along its dash pattern it is, across the segments of one line. */
class Pen {
  private travelled = 0;
  constructor(private readonly r: Raster, private readonly rgb: Rgb, private readonly dashed: boolean, private readonly area: Box) {}

  private dot(x: number, y: number): void {
    if (this.dashed && this.travelled % (DASH[0] + DASH[1]) >= DASH[0]) return;
    const half = Math.floor(LINE_WIDTH / 2);
    for (let dy = 0; dy < LINE_WIDTH; dy++) {
      for (let dx = 0; dx < LINE_WIDTH; dx++) {
        const [px, py] = [x - half + dx, y - half + dy];
        const a = this.area;
        if (px >= a.left && px < a.left + a.width && py >= a.top && py < a.top + a.height) this.r.set(px, py, this.rgb);
      }
    }
  }

  segment(x0: number, y0: number, x1: number, y1: number): void {
    const inside = clip(x0, y0, x1, y1, this.area);
    if (!inside) return;
    let [ax, ay, bx, by] = inside.map(Math.round);
    const [dx, dy] = [Math.abs(bx - ax), -Math.abs(by - ay)];
    const [sx, sy] = [ax < bx ? 1 : -1, ay < by ? 1 : -1];
    let err = dx + dy;
    for (;;) {
      this.dot(ax, ay);
      if (ax === bx && ay === by) break;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; ax += sx; }
      if (e2 <= dx) { err += dx; ay += sy; }
      this.travelled++;
    }
  }

  break(): void {
    this.travelled = 0;
  }
}

function marker(r: Raster, cx: number, cy: number, rgb: Rgb, area: Box): void {
  if (cx < area.left || cx >= area.left + area.width || cy < area.top || cy >= area.top + area.height) return;
  for (let dy = -3; dy <= 3; dy++) {
    for (let dx = -3; dx <= 3; dx++) if (dx * dx + dy * dy <= 10) r.set(cx + dx, cy + dy, rgb);
  }
}

/** The plot as a PNG of spec.width x spec.height pixels. */
export function renderPlot(spec: PlotSpec): Buffer {
  const frame = plotFrame(spec);
  const { area } = frame;
  const logY = spec.logY ?? false;
  const r = new Raster(frame.width, frame.height);

  for (const t of frame.yTicks) if (!t.minor) r.fillRect(area.left, Math.round(frame.y(t.value)), area.width, 1, GRID);
  for (const t of frame.xTicks) r.fillRect(Math.round(frame.x(t.value)), area.top, 1, area.height, GRID);

  for (const h of spec.hLines ?? []) {
    if (!Number.isFinite(h.y) || (logY && h.y <= 0)) continue;
    const py = Math.round(frame.y(h.y));
    if (py < area.top || py >= area.top + area.height) continue;
    const pen = new Pen(r, REFERENCE, true, area);
    pen.segment(area.left, py, area.left + area.width - 1, py);
    const labelTop = py - textHeight() - 3 >= area.top ? py - textHeight() - 3 : py + 4;
    drawText(r, h.label, area.left + area.width - 6 - textWidth(h.label), labelTop, REFERENCE);
  }

  // drawn after the axes' frame, so that points on the frame are whole; a point between two gaps
  // would otherwise not be drawn at all
  const markers: [number, number, Rgb][] = [];
  spec.series.forEach((s, i) => {
    const rgb = seriesColor(spec, i);
    const pen = new Pen(r, rgb, s.dashed ?? false, area);
    const points = s.x.map((x, k) => (valid(x, s.y[k], logY) ? [frame.x(x), frame.y(s.y[k] as number)] : undefined));
    const few = points.filter(Boolean).length <= MARKED_POINTS;
    points.forEach((p, k) => {
      if (!p) { pen.break(); return; }
      const next = points[k + 1];
      if (next) pen.segment(p[0], p[1], next[0], next[1]);
      if (few || (!points[k - 1] && !next)) markers.push([Math.round(p[0]), Math.round(p[1]), rgb]);
    });
  });

  r.frame(area.left, area.top, area.width, area.height);
  for (const [mx, my, rgb] of markers) marker(r, mx, my, rgb, area);
  const bottom = area.top + area.height;
  for (const t of frame.yTicks) {
    const py = Math.round(frame.y(t.value));
    const length = t.minor ? 3 : TICK;
    r.fillRect(area.left - 1 - length, py, length, 1, BLACK);
    if (t.label) drawText(r, t.label, area.left - 1 - TICK - 4 - textWidth(t.label), py - 7);
  }
  for (const t of frame.xTicks) {
    const px = Math.round(frame.x(t.value));
    r.fillRect(px, bottom + 1, 1, TICK, BLACK);
    drawText(r, t.label, px - Math.floor(textWidth(t.label) / 2), bottom + 1 + TICK + 4);
  }
  drawText(r, spec.xLabel, area.left + Math.floor((area.width - textWidth(spec.xLabel)) / 2), frame.height - PAD - textHeight());
  drawText(r, spec.yLabel, PAD, area.top + Math.max(0, Math.floor((area.height - textWidth(spec.yLabel)) / 2)), BLACK, { vertical: true });
  if (spec.title) {
    wrapText(spec.title, frame.width - 2 * PAD).forEach((line, k) => {
      drawText(r, line, Math.floor((frame.width - textWidth(line)) / 2), PAD + k * lineHeight());
    });
  }

  const L = frame.legend;
  if (L.width > 0) {
    r.fillRect(L.left, L.top, L.width, L.height, [255, 255, 255]);
    r.frame(L.left, L.top, L.width, L.height, [160, 160, 160]);
    let row = 0;
    spec.series.forEach((s, i) => {
      if (s.label === '') return;
      const top = L.top + 6 + row * lineHeight();
      const mid = top + 6;
      const pen = new Pen(r, seriesColor(spec, i), s.dashed ?? false, L);
      pen.segment(L.left + 8, mid, L.left + 8 + SAMPLE - 1, mid);
      drawText(r, s.label, L.left + 8 + SAMPLE + 8, top);
      row++;
    });
  }
  return r.encode();
}

/** Renders a plot and writes it as PNG atomically. */
export async function writePlot(path: string, spec: PlotSpec): Promise<void> {
  const png = renderPlot(spec);
  await writeAtomically(path, (temp) => writeFile(temp, png, { flag: 'wx' }));
}
