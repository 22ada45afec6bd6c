// An RGBA raster and a 5 x 7 bitmap font for the labels of images and plots: no font files,
// no native rendering, the same pixels on every machine.
import { PNG } from 'pngjs';

export type Rgb = readonly [number, number, number];

export const BLACK: Rgb = [0, 0, 0];
export const WHITE: Rgb = [255, 255, 255];

/** An opaque RGBA raster; drawing outside it is silently clipped. */
export class Raster {
  readonly png: PNG;

  constructor(readonly width: number, readonly height: number, background: Rgb = WHITE) {
    this.png = new PNG({ width, height });
    this.fillRect(0, 0, width, height, background);
  }

  set(x: number, y: number, rgb: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const at = 4 * (y * this.width + x);
    const d = this.png.data;
    d[at] = rgb[0];
    d[at + 1] = rgb[1];
    d[at + 2] = rgb[2];
    d[at + 3] = 255;
  }

  get(x: number, y: number): [number, number, number] {
    const at = 4 * (y * this.width + x);
    const d = this.png.data;
    return [d[at], d[at + 1], d[at + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, rgb: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let r = y0; r < y1; r++) for (let c = x0; c < x1; c++) this.set(c, r, rgb);
  }

  /** A one-pixel outline just outside the w x h box at (x, y), so the box's own pixels stay as drawn. */
  frame(x: number, y: number, w: number, h: number, rgb: Rgb = BLACK): void {
    this.fillRect(x - 1, y - 1, w + 2, 1, rgb);
    this.fillRect(x - 1, y + h, w + 2, 1, rgb);
    this.fillRect(x - 1, y, 1, h, rgb);
    this.fillRect(x + w, y, 1, h, rgb);
  }

  encode(): Buffer {
    // Paeth on every row rather than pngjs' default of trying all five filters a row: half the
    // time (an infer's 772 x 431 phase image 22 -> 10 ms warm), files 1-6 % larger
    return PNG.sync.write(this.png, { filterType: 4 });
  }
}

// Each glyph: up to 9 rows as two hex digits, bit 4 the leftmost of 5 columns. Rows 0-6 are the
// body (capitals and digits fill them), rows 7-8 hold descenders; missing rows are blank.
const GLYPHS: Record<string, string> = {
  A: '0e11111f111111', B: '1e11111e11111e', C: '0e11101010110e', D: '1c12111111121c',
  E: '1f10101e10101f', F: '1f10101e101010', G: '0e11101711110f', H: '1111111f111111',
  I: '0e04040404040e', J: '0702020202120c', K: '11121418141211', L: '1010101010101f',
  M: '111b1515111111', N: '11111915131111', O: '0e11111111110e', P: '1e11111e101010',
  Q: '0e11111115120d', R: '1e11111e141211', S: '0f10100e01011e', T: '1f040404040404',
  U: '1111111111110e', V: '11111111110a04', W: '1111111515150a', X: '11110a040a1111',
  Y: '11110a04040404', Z: '1f01020408101f',
  a: '00000e010f110f', b: '1010161911111e', c: '00000e1010110e', d: '01010d1311110f',
  e: '00000e111f100e', f: '0609081c080808', g: '00000f1111110f010e', h: '10101619111111',
  i: '04000c0404040e', j: '02000602020202120c', k: '10101214181412', l: '0c04040404040e',
  m: '00001a15151515', n: '00001619111111', o: '00000e1111110e', p: '00001e1111111e1010',
  q: '00000f1111110f0101', r: '00001619101010', s: '00000f100e011e', t: '08081c08080906',
  u: '0000111111130d', v: '00001111110a04', w: '0000111115150a', x: '0000110a040a11',
  y: '0000111111110f010e', z: '00001f0204081f',
  '0': '0e11131519110e', '1': '040c040404040e', '2': '0e11010204081f', '3': '1f02040201110e',
  '4': '02060a121f0202', '5': '1f101e0101110e', '6': '0608101e11110e', '7': '1f010204080808',
  '8': '0e11110e11110e', '9': '0e11110f01020c',
  ' ': '', '.': '00000000000c0c', ',': '00000000000c0408', '-': '0000001f000000', '+': '0004041f040400',
  '(': '02040808080402', ')': '08040202020408', ':': '000c0c000c0c00', '/': '01010204081010',
  '%': '18190204081303', _: '000000000000001f', '=': '00001f001f0000', 'π': '00001f0a0a0a0a',
  '[': '0e08080808080e', ']': '0e02020202020e', "'": '04040800000000', '<': '02040810080402',
  '>': '08040201020408', '*': '0004150e150400', '!': '04040404040004', '?': '0e110102040004',
  '#': '0a0a1f0a1f0a0a', '^': '040a1100000000', 'μ': '0000111111131d1010', '°': '0c12120c000000',
  '\u2212': '0000001f000000', // minus sign, as the hyphen
};
const UNKNOWN = '1f11111111111f';

const ROWS = 9;
const ADVANCE = 6; // 5 columns and a blank one
/** Glyph pixels per font pixel: 5 x 7 glyphs drawn twice as large are legible without zooming. */
export const FONT_SCALE = 2;

function glyphRows(ch: string): number[] {
  const hex = GLYPHS[ch] ?? UNKNOWN;
  const rows: number[] = [];
  for (let i = 0; i < hex.length; i += 2) rows.push(parseInt(hex.slice(i, i + 2), 16));
  return rows;
}

/** Whether every character of `s` has a glyph of its own. */
export function canWrite(s: string): boolean {
  return [...s].every((ch) => ch in GLYPHS);
}

export function textWidth(s: string, scale = FONT_SCALE): number {
  const n = [...s].length;
  return n === 0 ? 0 : (n * ADVANCE - 1) * scale;
}

/** The height of one line of text, descenders included. */
export function textHeight(scale = FONT_SCALE): number {
  return ROWS * scale;
}

/** Baseline-to-baseline distance of wrapped lines. */
export function lineHeight(scale = FONT_SCALE): number {
  return (ROWS + 2) * scale;
}

/**
 * Draws `s` with its top-left corner at (x, y). `vertical` turns it a quarter counter-clockwise
 * (read from bottom to top, as a y-axis label): then (x, y) is the top-left of the turned box,
 * textHeight() wide and textWidth(s) tall.
 */
export function drawText(r: Raster, s: string, x: number, y: number, rgb: Rgb = BLACK,
  options: { scale?: number; vertical?: boolean } = {}): void {
  const scale = options.scale ?? FONT_SCALE;
  const length = textWidth(s, scale);
  [...s].forEach((ch, i) => {
    const rows = glyphRows(ch);
    for (let gy = 0; gy < rows.length; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        if (!(rows[gy] & (0x10 >> gx))) continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const tx = (i * ADVANCE + gx) * scale + dx;
            const ty = gy * scale + dy;
            if (options.vertical) r.set(x + ty, y + length - 1 - tx, rgb);
            else r.set(x + tx, y + ty, rgb);
          }
        }
      }
    }
  });
}

/** Splits `s` at spaces into lines no wider than `maxWidth`; a word wider than that is cut. */
export function wrapText(s: string, maxWidth: number, scale = FONT_SCALE): string[] {
  const perLine = Math.max(1, Math.floor((maxWidth / scale + 1) / ADVANCE));
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    let w = word;
    while ([...w].length > perLine) {
      if (line) { lines.push(line); line = ''; }
      lines.push([...w].slice(0, perLine).join(''));
      w = [...w].slice(perLine).join('');
    }
    const candidate = line ? `${line} ${w}` : w;
    if ([...candidate].length <= perLine) line = candidate;
    else { lines.push(line); line = w; }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}
