// Images of a reconstruction a person can read: enlarged without smoothing, colour-mapped with
// d3's maps, a labelled colour bar with units, an optional title, and a legend for what is not data.
import { writeFile } from 'node:fs/promises';
import { interpolateSinebow, interpolateViridis } from 'd3-scale-chromatic';
import { writeAtomically } from './atomic.js';
import { ArgumentError } from './errors.js';
import { BLACK, Raster, type Rgb, drawText, lineHeight, textHeight, textWidth, wrapText } from './font.js';
import type { FloatArray } from './ndarray.js';

/** viridis for amplitudes, a cyclic map for phases (which wrap). */
export type ColorMap = 'viridis' | 'cyclic';

/** How an image is rendered to PNG. */
export interface RenderOptions {
  colormap?: ColorMap;
  /** Values at the colour map's ends; values beyond are clipped (default: robustRange). */
  range?: [number, number];
  /** One byte per pixel, row-major: 1 where the pixel is data, 0 outside the scanned region (drawn grey). */
  mask?: Uint8Array;
  /** Written under the colour bar, e.g. 'rad' or 'a.u.'. */
  units?: string;
  /** A line above the image, e.g. 'phase (offset removed)'. */
  title?: string;
  /** The long side is enlarged by a whole factor to at least this many pixels; never shrunk (default 512). */
  minSize?: number;
  /** The fractions of the data the default range spans (default [0.01, 0.99]). */
  percentiles?: [number, number];
}

export interface Box { left: number; top: number; width: number; height: number }

/** Pixels outside the scanned region (mask 0) and NaN pixels: opaque mid-grey. */
export const MASK_GREY: Rgb = [128, 128, 128];

const PAD = 12;
const TITLE_GAP = 12;
const BAR_GAP = 16;
const BAR_WIDTH = 24;
const TICK = 6;
const LABEL_GAP = 4;
// tick labels are at most 8 characters (see formatTick), so the column's width does not depend on the data
const LABEL_COLUMN = textWidth('-0.00000');
// short images still get a bar tall enough for five legible labels
const MIN_BAR = 180;
const SWATCH = 14;

/**
 * Width the PNG adds to the enlarged image (imageLayout(...).scale times the image's width): the
 * margins, the colour bar and its labels, when the units fit under the bar. Use imageSize for the
 * exact size.
 */
export const COLORBAR_EXTRA = PAD + BAR_GAP + BAR_WIDTH + TICK + LABEL_GAP + LABEL_COLUMN + PAD;

export interface ImageLayout {
  width: number;
  height: number;
  /** Each source pixel is drawn as a scale x scale block. */
  scale: number;
  image: Box;
  bar: Box;
}

interface FullLayout extends ImageLayout {
  titleLines: string[];
  unitsAt?: { left: number; top: number };
  legend: { text: string; top: number; swatch: boolean }[];
}

function ordinal(p: number): string {
  const n = +(100 * p).toFixed(2);
  const suffix = !Number.isInteger(n) ? 'th'
    : n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th';
  return `${n}${suffix}`;
}

function legendTexts(h: number, w: number, scale: number, options: RenderOptions): { text: string; swatch: boolean }[] {
  const out: { text: string; swatch: boolean }[] = [];
  if (options.mask) out.push({ text: 'grey: not scanned', swatch: true });
  if (!options.range) {
    const [p0, p1] = options.percentiles ?? [0.01, 0.99];
    out.push({ text: `colours clipped to the ${ordinal(p0)}-${ordinal(p1)} percentile`, swatch: false });
  }
  out.push({ text: scale > 1 ? `${h} x ${w} pixels, each drawn ${scale} x ${scale}` : `${h} x ${w} pixels`, swatch: false });
  return out;
}

function enlargement(h: number, w: number, minSize: number | undefined): number {
  const target = minSize ?? 512;
  if (!(target >= 0) || !Number.isFinite(target)) throw new ArgumentError(`minSize must be a number of pixels >= 0, not ${minSize}`);
  return Math.max(1, Math.ceil(target / Math.max(1, h, w)));
}

function layout(h: number, w: number, options: RenderOptions): FullLayout {
  const scale = enlargement(h, w, options.minSize);
  const [imgW, imgH] = [scale * w, scale * h];
  const unitsWidth = options.units ? textWidth(options.units) : 0;
  const barLeft = PAD + imgW + BAR_GAP;
  const width = Math.max(imgW + COLORBAR_EXTRA, barLeft + unitsWidth + PAD);
  const textRoom = width - 2 * PAD;
  const titleLines = options.title ? wrapText(options.title, textRoom) : [];
  const imageTop = PAD + (titleLines.length > 0 ? titleLines.length * lineHeight() - (lineHeight() - textHeight()) + TITLE_GAP : 0);
  const bar: Box = { left: barLeft, top: imageTop, width: BAR_WIDTH, height: Math.max(imgH, MIN_BAR) };
  // the lowest tick label hangs half a line below the bar
  let below = bar.top + bar.height + Math.ceil(textHeight() / 2) + 4;
  let unitsAt: FullLayout['unitsAt'];
  if (options.units) {
    unitsAt = { left: barLeft, top: below };
    below += textHeight();
  }
  let y = Math.max(imageTop + imgH, below) + 10;
  const legend: FullLayout['legend'] = [];
  // with a swatch in the legend, every line starts where the swatch's text does
  const indent = options.mask ? SWATCH + 8 : 0;
  for (const item of legendTexts(h, w, scale, options)) {
    for (const [i, line] of wrapText(item.text, textRoom - indent).entries()) {
      legend.push({ text: line, top: y, swatch: item.swatch && i === 0 });
      y += lineHeight();
    }
  }
  const height = y - (legend.length > 0 ? lineHeight() - textHeight() : 0) + PAD;
  return { width, height, scale, image: { left: PAD, top: imageTop, width: imgW, height: imgH }, bar, titleLines, unitsAt, legend };
}

/** Where renderImage puts the image and its colour bar in a PNG of an h x w image, and the PNG's size. */
export function imageLayout(h: number, w: number, options: RenderOptions = {}): ImageLayout {
  const { width, height, scale, image, bar } = layout(h, w, options);
  return { width, height, scale, image, bar };
}

/** The size of the PNG renderImage makes of an h x w image: it depends on the options, never on the values. */
export function imageSize(h: number, w: number, options: RenderOptions = {}): { width: number; height: number } {
  const { width, height } = layout(h, w, options);
  return { width, height };
}

/** Three significant digits, at most 8 characters. */
export function formatLabel(v: number): string {
  const fixed = v.toPrecision(3);
  return fixed.length <= 8 ? fixed : v.toExponential(1);
}

/** A tick value written to the precision its spacing `step` calls for (at most 8 characters). */
export function formatTick(v: number, step: number): string {
  if (v === 0 || Math.abs(v) < step * 1e-9) return '0';
  const magnitude = Math.max(Math.abs(v), step);
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    const digits = Math.min(3, Math.max(0, Math.floor(Math.log10(Math.abs(v))) - Math.floor(Math.log10(step) + 1e-9)));
    return v.toExponential(digits).replace('e+', 'e');
  }
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

/** A tick spacing of 1, 2 or 5 times a power of ten giving about `count` intervals over [lo, hi]. */
export function niceStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const error = raw / power;
  return power * (error >= Math.sqrt(50) ? 10 : error >= Math.sqrt(10) ? 5 : error >= Math.sqrt(2) ? 2 : 1);
}

// the ends of the bar get one more digit than the ticks, without trailing zeros
function endLabel(v: number, step: number): string {
  const s = formatTick(v, step / 10);
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}

function widen(lo: number, hi: number): [number, number] {
  if (hi > lo) return [lo, hi];
  const d = lo === 0 ? 1 : Math.abs(lo) * 0.01;
  return [lo - d, hi + d];
}

function checkMask(image: FloatArray, mask: Uint8Array | undefined): void {
  if (mask && mask.length !== image.data.length) {
    throw new ArgumentError(`the mask has ${mask.length} pixel(s), the image ${image.data.length}`);
  }
}

/**
 * The `percentiles` (fractions, linearly interpolated as numpy's default) of the finite values
 * where `mask` is nonzero, or of all finite values without a mask. Never an empty interval: equal
 * ends are pulled apart by 1% (by 1 around 0), no data at all gives [0, 1].
 */
export function robustRange(image: FloatArray, mask?: Uint8Array, percentiles: [number, number] = [0.01, 0.99]): [number, number] {
  checkMask(image, mask);
  const [p0, p1] = percentiles;
  if (!(p0 >= 0 && p1 <= 1 && p0 <= p1)) throw new ArgumentError(`percentiles must satisfy 0 <= low <= high <= 1, not [${p0}, ${p1}]`);
  const data = image.data;
  const values = new Float64Array(data.length);
  let n = 0;
  for (let k = 0; k < data.length; k++) {
    if ((!mask || mask[k]) && Number.isFinite(data[k])) values[n++] = data[k];
  }
  if (n === 0) return [0, 1];
  const sorted = values.subarray(0, n).sort();
  const at = (p: number) => {
    const x = p * (sorted.length - 1);
    const i = Math.floor(x);
    return i + 1 < sorted.length ? sorted[i] + (x - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
  };
  return widen(at(p0), at(p1));
}

const LUT_SIZE = 1024;
const luts = new Map<ColorMap, Uint8Array>();

function parseColor(css: string): Rgb {
  if (css.startsWith('#')) return [parseInt(css.slice(1, 3), 16), parseInt(css.slice(3, 5), 16), parseInt(css.slice(5, 7), 16)];
  const m = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(css);
  if (!m) throw new Error(`unexpected colour ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

// a table of the map, because d3 answers with a CSS string per call
function lut(map: ColorMap): Uint8Array {
  let table = luts.get(map);
  if (!table) {
    // sinebow: cyclic, so phases of -pi and pi get one colour, and brighter than d3's rainbow
    const f = map === 'cyclic' ? interpolateSinebow : interpolateViridis;
    table = new Uint8Array(3 * LUT_SIZE);
    for (let i = 0; i < LUT_SIZE; i++) table.set(parseColor(f(i / (LUT_SIZE - 1))), 3 * i);
    luts.set(map, table);
  }
  return table;
}

/** The colour renderImage gives the fraction t (0 = range's low end, 1 = high end, clipped) of the map. */
export function colorAt(map: ColorMap, t: number): Rgb {
  const table = lut(map);
  const i = 3 * Math.round(Math.min(1, Math.max(0, t)) * (LUT_SIZE - 1));
  return [table[i], table[i + 1], table[i + 2]];
}

interface Tick { value: number; label: string }

function barTicks(lo: number, hi: number, barHeight: number): Tick[] {
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-6;
  if (close(lo, -Math.PI) && close(hi, Math.PI)) {
    return [[-1, '-π'], [-0.5, '-π/2'], [0, '0'], [0.5, 'π/2'], [1, 'π']]
      .map(([k, label]) => ({ value: (k as number) * Math.PI, label: label as string }));
  }
  const step = niceStep(lo, hi, Math.min(8, Math.max(3, Math.round(barHeight / 70))));
  const px = (v: number) => ((hi - v) / (hi - lo)) * (barHeight - 1);
  const room = lineHeight();
  const ticks: Tick[] = [{ value: hi, label: endLabel(hi, step) }];
  for (let k = Math.floor(hi / step); k * step > lo; k--) {
    const v = k * step;
    if (v < hi && px(v) >= room && px(v) <= barHeight - 1 - room) ticks.push({ value: v, label: formatTick(v, step) });
  }
  if (ticks.length === 1) ticks.push({ value: (lo + hi) / 2, label: endLabel((lo + hi) / 2, step) });
  ticks.push({ value: lo, label: endLabel(lo, step) });
  return ticks;
}

/** The image (H, W) colour-mapped and enlarged, with a title, a labelled colour bar and a legend. */
export function renderImage(image: FloatArray, options: RenderOptions = {}): { png: Buffer; range: [number, number] } {
  if (image.shape.length !== 2) throw new ArgumentError(`an image must have 2 dimensions, not shape (${image.shape.join(', ')})`);
  const [h, w] = image.shape;
  const mask = options.mask;
  checkMask(image, mask);
  let range: [number, number];
  if (options.range) {
    const [a, b] = options.range;
    if (!(Number.isFinite(a) && Number.isFinite(b) && a <= b)) throw new ArgumentError(`range must be two finite numbers, low first, not [${a}, ${b}]`);
    range = widen(a, b);
  } else {
    range = robustRange(image, mask, options.percentiles);
  }
  const [lo, hi] = range;
  const map = options.colormap ?? 'viridis';
  const L = layout(h, w, options);
  const raster = new Raster(L.width, L.height);
  const out = raster.png.data;
  const k = L.scale;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const v = image.data[r * w + c];
      const rgb = (mask && !mask[r * w + c]) || Number.isNaN(v) ? MASK_GREY : colorAt(map, (v - lo) / (hi - lo));
      for (let dy = 0; dy < k; dy++) {
        let at = 4 * ((L.image.top + r * k + dy) * L.width + L.image.left + c * k);
        for (let dx = 0; dx < k; dx++, at += 4) {
          out[at] = rgb[0];
          out[at + 1] = rgb[1];
          out[at + 2] = rgb[2];
        }
      }
    }
  }
  raster.frame(L.image.left, L.image.top, L.image.width, L.image.height);

  const bar = L.bar;
  for (let r = 0; r < bar.height; r++) raster.fillRect(bar.left, bar.top + r, bar.width, 1, colorAt(map, 1 - r / Math.max(1, bar.height - 1)));
  raster.frame(bar.left, bar.top, bar.width, bar.height);
  const labelLeft = bar.left + bar.width + TICK + LABEL_GAP;
  for (const tick of barTicks(lo, hi, bar.height)) {
    const y = bar.top + Math.round(((hi - tick.value) / (hi - lo)) * (bar.height - 1));
    raster.fillRect(bar.left + bar.width, y, TICK, 1, BLACK);
    // centred on the tick by the height of a capital
    drawText(raster, tick.label, labelLeft, Math.max(0, y - Math.floor((7 * textHeight()) / 9 / 2)));
  }
  if (L.unitsAt && options.units) drawText(raster, options.units, L.unitsAt.left, L.unitsAt.top);
  L.titleLines.forEach((line, i) => {
    drawText(raster, line, PAD, PAD + i * lineHeight());
  });
  for (const item of L.legend) {
    if (item.swatch) {
      raster.fillRect(PAD + 1, item.top, SWATCH, SWATCH, MASK_GREY);
      raster.frame(PAD + 1, item.top, SWATCH, SWATCH);
    }
    drawText(raster, item.text, PAD + (mask ? SWATCH + 8 : 0), item.top);
  }
  return { png: raster.encode(), range };
}

/** Renders and writes a PNG atomically; returns the range the colours span. */
export async function writeImage(path: string, image: FloatArray, options: RenderOptions = {}): Promise<[number, number]> {
  const { png, range } = renderImage(image, options);
  await writeAtomically(path, (temp) => writeFile(temp, png, { flag: 'wx' }));
  return range;
}
