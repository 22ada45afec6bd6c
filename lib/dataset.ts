// A ptychography dataset (SPEC section 2): the NPZ data contract, its checks, and the in-memory
// form the rest of the package consumes. Every error names the file, the key, what was expected
// and what was found.
import { type ComplexArray, type DType, type FloatArray, type NdArray, isComplex, shapeText } from './ndarray.js';
import { NpzFile, writeNpz } from './npz.js';
import { FilePatterns, type PatternSource, memoryPatterns } from './patterns.js';
import { PtychoPinnError } from './errors.js';

/** A ptychography dataset: diffraction amplitudes (K, N, N), the probe, scan positions in object pixels, and optionally the object. */
export interface Dataset {
  /** Where it came from (a file path, or a description), for messages. */
  source: string;
  /** Measured amplitudes (n, N, N), fft-shifted. */
  diffraction: FloatArray;
  /** The probe (N, N). */
  probe: ComplexArray;
  /** Scan positions in object pixels: the centre of each pattern's patch. */
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** Ground truth, a reference reconstruction or an initial guess (H, W): see objectKind. */
  objectGuess?: ComplexArray;
  /**
   * What objectGuess is. Files from `ptychopinn simulate` say 'ground truth' (key
   * `objectGuess_is_ground_truth`); a constant object is an 'initial guess' (ptychodus exports
   * its starting object there); anything else is 'unknown' (perhaps an iterative reconstruction).
   */
  objectKind?: ObjectKind;
  /** Which scan each pattern belongs to, when the file says. */
  scanIndex?: Int32Array;
}

/** What a dataset's `objectGuess` is: a ground truth or an unknown object is scored against, an initial guess is not. */
export type ObjectKind = 'ground truth' | 'initial guess' | 'unknown';

/** 'initial guess' when every pixel of the object holds the same value, else `otherwise`. */
export function objectKindOf(object: ComplexArray, otherwise: ObjectKind): ObjectKind {
  const [re, im] = [object.data[0], object.data[1]];
  for (let k = 2; k < object.data.length; k += 2) {
    if (object.data[k] !== re || object.data[k + 1] !== im) return otherwise;
  }
  return 'initial guess';
}

export const patternSize = (d: Dataset): number => d.diffraction.shape[1];
export const patternCount = (d: Dataset): number => d.diffraction.shape[0];

export const SUPPORTED_SIZES = [64, 128, 256] as const;

/** The NPZ key of an optional (N, N) mask of bad detector pixels (nonzero = bad; ptychodus' BadPixels). */
export const BAD_PIXELS_KEY = 'bad_pixels';

/** A bad-pixel mask of any real or boolean dtype as 1 (bad) and 0 (good). */
export function badPixelMask(mask: NdArray): Uint8Array {
  return Uint8Array.from(mask.data as ArrayLike<number>, (v) => (Number(v) ? 1 : 0));
}

/**
 * Each bad pixel of each pattern (n patterns of N x N amplitudes) replaced by the mean of the good
 * ones among its eight neighbours (0 when it has none): the network was trained on whole patterns,
 * and a hot or dead pixel read as data would be a false speck in every pattern.
 */
export function fillBadPixels(amplitudes: Float32Array, count: number, n: number, bad: Uint8Array): void {
  const badPixels: number[] = [];
  for (let p = 0; p < n * n; p++) if (bad[p]) badPixels.push(p);
  for (let k = 0; k < count; k++) {
    const pattern = amplitudes.subarray(k * n * n, (k + 1) * n * n);
    for (const p of badPixels) {
      const i = Math.floor(p / n);
      const j = p % n;
      let sum = 0;
      let good = 0;
      for (let r = Math.max(0, i - 1); r <= Math.min(n - 1, i + 1); r++) {
        for (let c = Math.max(0, j - 1); c <= Math.min(n - 1, j + 1); c++) {
          if ((r !== i || c !== j) && !bad[r * n + c]) {
            sum += pattern[r * n + c];
            good++;
          }
        }
      }
      pattern[p] = good ? sum / good : 0;
    }
  }
}

/** The NPZ key by which a file says its objectGuess is the ground truth (ours; others ignore it). */
export const TRUTH_KEY = 'objectGuess_is_ground_truth';

/** A dataset file that does not hold what a dataset must: names the file, the key and what was expected. */
export class DatasetError extends PtychoPinnError {
  override name = 'DatasetError';
  constructor(readonly file: string, readonly key: string | undefined, message: string, options?: { cause?: unknown }) {
    super('ERR_PTYCHOPINN_DATASET', `${file}${key ? `: ${key}` : ''}: ${message}`, options);
  }
}

/** How `loadDataset` reads a file. */
export interface LoadOptions {
  /** The file holds photon counts, not amplitudes: square-root them once. */
  intensities?: boolean;
  /** Pattern sizes accepted (default: the network's 64, 128, 256). */
  sizes?: readonly number[];
  /** Receives warnings, such as a legacy (N, N, n) layout being transposed. */
  onWarning?: (message: string) => void;
}

const REAL: readonly DType[] = ['bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float16', 'float32', 'float64'];

// The array's values as `make`'s type: the decoded buffer itself when it already is (a large
// diffraction stack is not copied), else a converted copy.
function toFloat(array: NdArray, make: (n: number) => Float32Array | Float64Array): Float32Array | Float64Array {
  if (array.data.constructor === make(0).constructor) return array.data as Float32Array | Float64Array;
  const out = make(array.data.length);
  if (array.data instanceof BigInt64Array || array.data instanceof BigUint64Array) {
    for (let i = 0; i < out.length; i++) out[i] = Number(array.data[i]);
  } else {
    out.set(array.data);
  }
  return out;
}

function toComplex64(array: NdArray): Float32Array {
  return array.data instanceof Float32Array ? array.data : Float32Array.from(array.data as Float64Array);
}

// What loading and opening share: every check but the pattern values, which are read later.
interface DatasetParts {
  meta: Omit<Dataset, 'diffraction'>;
  diffKey: string;
  count: number;
  n: number;
  /** The patterns are stored (N, N, n) and must be transposed. */
  legacy: boolean;
  bad?: Uint8Array;
}

async function readParts(npz: NpzFile, path: string, options: LoadOptions): Promise<DatasetParts> {
  const fail = (key: string | undefined, message: string): never => {
    throw new DatasetError(path, key, message);
  };
  const keys = npz.keys;
  const diffKey = npz.has('diffraction') ? 'diffraction' : npz.has('diff3d') ? 'diff3d' : undefined;
  if (!diffKey) fail(undefined, `no diffraction: expected a key 'diffraction' (or the legacy 'diff3d'); the file has ${keys.join(', ') || 'no arrays'}`);
  for (const key of ['probeGuess', 'xcoords', 'ycoords']) {
    if (!npz.has(key)) fail(key, `missing: a dataset needs diffraction, probeGuess, xcoords and ycoords; the file has ${keys.join(', ')}`);
  }

  const probe = await npz.read('probeGuess');
  if (!isComplex(probe.dtype)) fail('probeGuess', `expected complex64 or complex128, found ${probe.dtype}`);
  if (probe.shape.length !== 2 || probe.shape[0] !== probe.shape[1]) {
    fail('probeGuess', `expected a square (N, N) array, found shape ${shapeText(probe.shape)}`);
  }
  const n = probe.shape[0];
  const sizes = options.sizes ?? SUPPORTED_SIZES;
  if (!sizes.includes(n)) fail('probeGuess', `expected N in ${sizes.join(', ')}, found ${n} x ${n}`);

  const coords: Float64Array[] = [];
  for (const key of ['xcoords', 'ycoords']) {
    const a = await npz.read(key);
    if (!REAL.includes(a.dtype) || a.shape.length !== 1) {
      fail(key, `expected a real 1-d array (n,), found ${a.dtype} ${shapeText(a.shape)}`);
    }
    const values = toFloat(a, (m) => new Float64Array(m)) as Float64Array;
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(key, `expected finite positions, found ${values[bad]} at index ${bad}`);
    coords.push(values);
  }
  const [xcoords, ycoords] = coords;
  const count = xcoords.length;
  if (count === 0) fail('xcoords', 'expected at least one scan position, found none (the dataset is empty)');
  if (ycoords.length !== count) fail('ycoords', `expected ${count} values to match xcoords, found ${ycoords.length}`);

  const raw = await npz.completeInfo(diffKey!);
  if (!REAL.includes(raw.dtype)) fail(diffKey, `expected real amplitudes (float32), found ${raw.dtype}`);
  if (raw.shape.length !== 3) fail(diffKey, `expected shape (n, N, N) = (${count}, ${n}, ${n}), found ${shapeText(raw.shape)}`);
  const [a, b, c] = raw.shape;
  const standard = a === count && b === n && c === n;
  const legacy = a === n && b === n && c === count;
  // a cube (n = N) reads both ways: the standard layout wins, legacy only when it is the only reading
  if (!standard && !legacy) {
    fail(diffKey, `expected shape (n, N, N) = (${count}, ${n}, ${n}) to match ${count} positions and the ${n} x ${n} probe, found ${shapeText(raw.shape)}`);
  }
  // bad_pixels (N, N), nonzero = bad: what such a pixel holds is not data, NaN included
  let bad: Uint8Array | undefined;
  if (npz.has(BAD_PIXELS_KEY)) {
    const mask = await npz.read(BAD_PIXELS_KEY);
    if (mask.shape.join() !== `${n},${n}` || !(REAL.includes(mask.dtype) || mask.dtype === 'bool')) {
      fail(BAD_PIXELS_KEY, `expected a boolean (${n}, ${n}) mask like the patterns, found ${mask.dtype} ${shapeText(mask.shape)}`);
    }
    bad = badPixelMask(mask);
  }
  const meta: Omit<Dataset, 'diffraction'> = {
    source: path,
    probe: { dtype: 'complex64', shape: [n, n], data: toComplex64(probe) },
    xcoords, ycoords,
  };
  checkFiniteComplex(path, 'probeGuess', meta.probe.data);
  if (!meta.probe.data.some((v) => v !== 0)) fail('probeGuess', 'is zero everywhere: no light reaches the sample');
  if (npz.has('objectGuess')) {
    const object = await npz.read('objectGuess');
    if (!isComplex(object.dtype) || object.shape.length !== 2) {
      fail('objectGuess', `expected a complex (H, W) array, found ${object.dtype} ${shapeText(object.shape)}`);
    }
    meta.objectGuess = { dtype: 'complex64', shape: [...object.shape], data: toComplex64(object) };
    checkFiniteComplex(path, 'objectGuess', meta.objectGuess.data);
    let truth = false;
    if (npz.has(TRUTH_KEY)) {
      const flag = await npz.read(TRUTH_KEY);
      if (flag.shape.length !== 0 || !REAL.includes(flag.dtype)) fail(TRUTH_KEY, `expected a scalar, found ${flag.dtype} ${shapeText(flag.shape)}`);
      truth = toFloat(flag, (m) => new Float64Array(m))[0] !== 0;
    }
    meta.objectKind = objectKindOf(meta.objectGuess, truth ? 'ground truth' : 'unknown');
  }
  if (npz.has('scan_index')) {
    const scan = await npz.read('scan_index');
    if (!REAL.includes(scan.dtype) || scan.shape.length !== 1 || scan.shape[0] !== count) {
      fail('scan_index', `expected an integer array (${count},), found ${scan.dtype} ${shapeText(scan.shape)}`);
    }
    meta.scanIndex = Int32Array.from(toFloat(scan, (m) => new Float64Array(m)));
  }
  return { meta, diffKey: diffKey!, count, n, legacy: legacy && !standard, bad };
}

// Every pattern read from a file goes through this: finite, non-negative values (bad pixels
// aside), counts square-rooted, bad pixels filled. `indexOf(k)`: the file index of pattern k.
function preparePatterns(path: string, parts: DatasetParts, options: LoadOptions, values: Float32Array, indexOf: (k: number) => number): void {
  const { n, bad, diffKey } = parts;
  const size = n * n;
  for (let i = 0; i < values.length; i++) {
    if (bad?.[i % size]) continue;
    const v = values[i];
    if (!Number.isFinite(v) || v < 0) {
      const pixel = i % size;
      throw new DatasetError(path, diffKey, `expected finite, non-negative ${options.intensities ? 'counts' : 'amplitudes'}, found ${v} ` +
        `in pattern ${indexOf(Math.floor(i / size))} (pixel ${Math.floor(pixel / n)}, ${pixel % n})`);
    }
    if (options.intensities) values[i] = Math.sqrt(v);
  }
  if (bad) fillBadPixels(values, values.length / size, n, bad);
}

/** Loads and checks a dataset NPZ (the keys and shapes: README, "Data files"). */
export async function loadDataset(path: string, options: LoadOptions = {}): Promise<Dataset> {
  const npz = await NpzFile.open(path);
  try {
    return await readPatterns(npz, path, await readParts(npz, path, options), options);
  } finally {
    npz.close();
  }
}

// The patterns read whole, as loadDataset holds them.
async function readPatterns(npz: NpzFile, path: string, parts: DatasetParts, options: LoadOptions): Promise<Dataset> {
  const { diffKey, count, n } = parts;
  const raw = await npz.read(diffKey);
  let amplitudes = toFloat(raw, (m) => new Float32Array(m)) as Float32Array;
  if (parts.legacy) {
    options.onWarning?.(`${path}: ${diffKey} has the legacy (N, N, n) layout ${shapeText(raw.shape)}; transposed to (n, N, N)`);
    const t = new Float32Array(amplitudes.length);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        for (let k = 0; k < count; k++) t[(k * n + i) * n + j] = amplitudes[(i * n + j) * count + k];
      }
    }
    amplitudes = t;
  }
  preparePatterns(path, parts, options, amplitudes, (k) => k);
  if (!amplitudes.some((v) => v > 0)) throw new DatasetError(path, diffKey, `holds no light: every one of the ${count} patterns is zero`);
  return { ...parts.meta, diffraction: { dtype: 'float32', shape: [count, n, n], data: amplitudes } };
}

// One pass over a streamed file, a block at a time, so that a bad value or a dark file is refused
// before any work starts, as loadDataset refuses it.
async function checkAllPatterns(path: string, parts: DatasetParts, patterns: PatternSource): Promise<void> {
  const block = Math.max(1, Math.floor((1 << 20) / (parts.n * parts.n)));
  const buffer = new Float32Array(block * parts.n * parts.n);
  let lit = false;
  for (let first = 0; first < parts.count; first += block) {
    const indices = Int32Array.from({ length: Math.min(block, parts.count - first) }, (_, k) => first + k);
    const values = await patterns.read(indices, buffer);
    lit ||= values.some((v) => v > 0);
  }
  if (!lit) throw new DatasetError(path, parts.diffKey, `holds no light: every one of the ${parts.count} patterns is zero`);
}

/**
 * A dataset whose patterns stay in its file until they are read: for inference of datasets too
 * large to hold. Close it when done.
 */
export interface StreamedDataset extends Omit<Dataset, 'diffraction'> {
  /** The patterns, read by index (counts square-rooted and bad pixels filled as they are read). */
  patterns: PatternSource;
  /** Closes the file. */
  close(): Promise<void>;
}

/**
 * Opens a dataset NPZ with the checks of `loadDataset` (the patterns' values in one pass, a block
 * at a time), keeping the patterns in the file: a stored (np.savez) diffraction member is then
 * read by position as inference needs it, so memory does not grow with its size. A compressed
 * (np.savez_compressed), Fortran-order or legacy (N, N, n) member has no such access and is read whole.
 */
export async function openDataset(path: string, options: LoadOptions = {}): Promise<StreamedDataset> {
  const npz = await NpzFile.open(path);
  try {
    const parts = await readParts(npz, path, options);
    const stored = parts.legacy ? undefined : await npz.storedData(parts.diffKey);
    if (!stored || stored.info.fortranOrder) {
      // no access by position: held whole
      const { diffraction, ...meta } = await readPatterns(npz, path, parts, options);
      return { ...meta, patterns: memoryPatterns({ diffraction }), close: async () => {} };
    }
    // what reading it whole would check: the CRC, then every value
    await npz.verify(parts.diffKey);
    const { count, n } = parts;
    const patterns = await FilePatterns.open({ path, label: stored.label, offset: stored.offset, header: stored.info, count, n },
      (values, indices) => preparePatterns(path, parts, options, values, (k) => indices[k]));
    try {
      await checkAllPatterns(path, parts, patterns);
    } catch (error) {
      await patterns.close();
      throw error;
    }
    return { ...parts.meta, patterns, close: () => patterns.close() };
  } finally {
    npz.close();
  }
}

/**
 * Checks a dataset built in memory (not by loadDataset) as loading checks a file: shapes that
 * agree, a supported N, finite non-negative amplitudes, finite positions and probe.
 */
export function checkDataset(dataset: Dataset, sizes: readonly number[] = SUPPORTED_SIZES): void {
  const source = typeof dataset?.source === 'string' ? dataset.source : 'dataset';
  const fail = (key: string, message: string): never => {
    throw new DatasetError(source, key, message);
  };
  const d = dataset?.diffraction;
  if (d?.dtype !== 'float32' || !(d.data instanceof Float32Array) || d.shape?.length !== 3) {
    fail('diffraction', `expected float32 amplitudes of shape (n, N, N), found ${d?.dtype} ${d?.shape ? shapeText(d.shape) : '(no shape)'}`);
  }
  const [count, n, m] = d.shape;
  if (!(count > 0)) fail('diffraction', 'expected at least one pattern, found none (the dataset is empty)');
  if (n !== m || !sizes.includes(n)) fail('diffraction', `expected N x N patterns with N in ${sizes.join(', ')}, found ${n} x ${m}`);
  if (d.data.length !== count * n * n) fail('diffraction', `holds ${d.data.length} values, its shape ${shapeText(d.shape)} needs ${count * n * n}`);
  for (let i = 0; i < d.data.length; i++) {
    const v = d.data[i];
    if (!(v >= 0) || v === Infinity) fail('diffraction', `expected finite, non-negative amplitudes, found ${v} in pattern ${Math.floor(i / (n * n))}`);
  }
  const p = dataset.probe;
  if (p?.dtype !== 'complex64' || p.shape?.join() !== `${n},${n}` || p.data?.length !== 2 * n * n) {
    fail('probeGuess', `expected a complex64 (${n}, ${n}) probe, found ${p?.dtype} ${p?.shape ? shapeText(p.shape) : '(no shape)'}`);
  }
  checkFiniteComplex(source, 'probeGuess', p.data);
  if (!p.data.some((v) => v !== 0)) fail('probeGuess', 'is zero everywhere: no light reaches the sample');
  if (!d.data.some((v) => v > 0)) fail('diffraction', `holds no light: every one of the ${count} patterns is zero`);
  for (const key of ['xcoords', 'ycoords'] as const) {
    const c = dataset[key];
    if (!(c instanceof Float64Array) || c.length !== count) fail(key, `expected a Float64Array of ${count} positions, found ${c?.length ?? 'none'}`);
    const bad = c.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(key, `expected finite positions, found ${c[bad]} at index ${bad}`);
  }
}

function checkFiniteComplex(file: string, key: string, data: Float32Array): void {
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new DatasetError(file, key, `expected finite values, found ${data[bad]} at element ${Math.floor(bad / 2)}`);
}

/**
 * Whether a dataset loaded as amplitudes from `path` holds photon counts instead: every good
 * pixel (bad ones, per the file's mask, aside) a whole number and some above 1. Amplitudes are
 * whole only where the counts are perfect squares, which no real file's every pixel is unless all
 * are 0 or 1, and there both readings agree.
 */
export async function looksLikeCounts(path: string, dataset: Dataset): Promise<boolean> {
  const values = dataset.diffraction.data;
  const size = dataset.diffraction.shape[1] ** 2;
  let bad: Uint8Array | undefined;
  const npz = await NpzFile.open(path);
  try {
    if (npz.has(BAD_PIXELS_KEY)) bad = badPixelMask(await npz.read(BAD_PIXELS_KEY));
  } finally {
    npz.close();
  }
  let above1 = false;
  for (let i = 0; i < values.length; i++) {
    if (bad?.[i % size]) continue;
    if (!Number.isInteger(values[i])) return false;
    above1 ||= values[i] > 1;
  }
  return above1;
}

/** How `saveDataset` writes a file. */
export interface SaveOptions {
  /** Deflate the members (np.savez_compressed); default stored, as np.savez. */
  compress?: boolean;
  /** More arrays to store beside the contract's. */
  extra?: Record<string, NdArray>;
}

/** Writes a dataset as a contract-conforming NPZ (complex64 probe and object, float64 positions). */
export async function saveDataset(path: string, dataset: Dataset, options: SaveOptions = {}): Promise<void> {
  const arrays: Record<string, NdArray> = {
    diffraction: dataset.diffraction,
    probeGuess: dataset.probe,
    xcoords: { dtype: 'float64', shape: [dataset.xcoords.length], data: dataset.xcoords },
    ycoords: { dtype: 'float64', shape: [dataset.ycoords.length], data: dataset.ycoords },
    ...options.extra,
  };
  if (dataset.objectGuess) arrays.objectGuess = dataset.objectGuess;
  if (dataset.objectGuess && dataset.objectKind === 'ground truth') arrays[TRUTH_KEY] = { dtype: 'bool', shape: [], data: Uint8Array.of(1) };
  if (dataset.scanIndex) arrays.scan_index = { dtype: 'int32', shape: [dataset.scanIndex.length], data: dataset.scanIndex };
  await writeNpz(path, arrays, { compress: options.compress });
}
