// Images of a reconstruction: a colour-mapped PNG with a colour bar labelled with its range.
import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { writeAtomically } from './atomic.js';
import type { FloatArray } from './ndarray.js';

export type ColorMap = 'viridis' | 'cyclic';
type Rgb = [number, number, number];

// viridis as a degree-6 polynomial fit (Matt Zucker's): within a few levels of 255 of the table
const VIRIDIS: Rgb[] = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

function color(map: ColorMap, t: number): Rgb {
  const x = Math.min(1, Math.max(0, t));
  if (map === 'cyclic') {
    // a cosine palette whose ends meet, so phases of -pi and pi look alike
    return [0, 1, 2].map((k) => 0.5 + 0.45 * Math.cos(2 * Math.PI * (x + k / 3))) as Rgb;
  }
  const out: Rgb = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let v = 0;
    for (let p = VIRIDIS.length - 1; p >= 0; p--) v = v * x + VIRIDIS[p][c];
    out[c] = v;
  }
  return out;
}

// A 3 x 5 pixel font for the colour bar's labels.
const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
  '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001001001001',
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', '-': '000000111000000',
  '+': '000010111010000', 'e': '000111101110111',
};
const SCALE = 2; // font pixels per glyph pixel
const GLYPH_W = 4 * SCALE;

export const COLORBAR_GAP = 6;
export const COLORBAR_WIDTH = 12;
export const LABEL_WIDTH = 8 * GLYPH_W + 4;
/** Width added to the image by the colour bar and its labels. */
export const COLORBAR_EXTRA = COLORBAR_GAP + COLORBAR_WIDTH + LABEL_WIDTH;

export function formatLabel(v: number): string {
  const fixed = v.toPrecision(3);
  return fixed.length <= 8 ? fixed : v.toExponential(1);
}

export interface RenderOptions {
  /** Values mapped to the colour map's ends (default: the image's finite min and max). */
  range?: [number, number];
  colormap?: ColorMap;
}

/** The image (H, W) colour-mapped, with a labelled colour bar to its right. */
export function renderImage(image: FloatArray, options: RenderOptions = {}): { png: Buffer; range: [number, number] } {
  const [h, w] = image.shape;
  let range = options.range;
  if (!range) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of image.data) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    range = Number.isFinite(lo) ? [lo, hi] : [0, 1];
  }
  const [lo, hi] = range;
  const span = hi > lo ? hi - lo : 1;
  const map = options.colormap ?? 'viridis';
  const height = Math.max(h, 5 * SCALE * 2 + 4);
  const png = new PNG({ width: w + COLORBAR_EXTRA, height });
  png.data.fill(255); // white background, opaque
  const put = (r: number, c: number, rgb: Rgb) => {
    const at = 4 * (r * png.width + c);
    for (let k = 0; k < 3; k++) png.data[at + k] = Math.round(255 * Math.min(1, Math.max(0, rgb[k])));
  };
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) put(r, c, color(map, (image.data[r * w + c] - lo) / span));
  }
  const barLeft = w + COLORBAR_GAP;
  for (let r = 0; r < h; r++) {
    const rgb = color(map, 1 - r / Math.max(1, h - 1)); // top is the maximum
    for (let c = 0; c < COLORBAR_WIDTH; c++) put(r, barLeft + c, rgb);
  }
  const text = (s: string, top: number) => {
    [...s].forEach((ch, i) => {
      const glyph = GLYPHS[ch] ?? '';
      for (let g = 0; g < glyph.length; g++) {
        if (glyph[g] !== '1') continue;
        for (let dy = 0; dy < SCALE; dy++) {
          for (let dx = 0; dx < SCALE; dx++) {
            put(top + Math.floor(g / 3) * SCALE + dy, barLeft + COLORBAR_WIDTH + 4 + i * GLYPH_W + (g % 3) * SCALE + dx, [0, 0, 0]);
          }
        }
      }
    });
  };
  text(formatLabel(hi), 0);
  text(formatLabel(lo), Math.max(0, h - 5 * SCALE));
  return { png: PNG.sync.write(png), range };
}

/** Renders and writes a PNG atomically; returns the range the colours span. */
export async function writeImage(path: string, image: FloatArray, options: RenderOptions = {}): Promise<[number, number]> {
  const { png, range } = renderImage(image, options);
  await writeAtomically(path, (temp) => writeFile(temp, png, { flag: 'wx' }));
  return range;
}
