// An object to compare, from any file a user has: our reconstruction.npz (object, origin and the
// scan it came from), an NPZ with objectGuess (ptychodus, PtychoPINN, `ptychopinn simulate`) or a
// bare .npy of a complex (or real: amplitude only) 2-d array.
import { extname } from 'node:path';
import { type ObjectKind, TRUTH_KEY, objectKindOf } from './dataset.js';
import { ArgumentError } from './errors.js';
import type { ComplexArray, NdArray } from './ndarray.js';
import { readNpy } from './npy.js';
import { NpzFile } from './npz.js';
import type { Region } from './metrics.js';
import { scannedRegion } from './outputs.js';

/** A complex object read from a file, with what the file called it. */
export interface ObjectFile {
  path: string;
  /** Which array of the file: 'object', 'objectGuess' or the .npy itself. */
  key: string;
  object: ComplexArray;
  /** Object coordinates (row, column) of pixel [0, 0]. */
  origin: [number, number];
  /** The scanned box, when the file holds scan positions. */
  region?: Region;
  kind: ObjectKind | 'reconstruction';
}

function toComplex(a: NdArray, where: string): ComplexArray {
  if (a.shape.length !== 2 || a.shape[0] < 1 || a.shape[1] < 1) {
    throw new ArgumentError(`${where}: expected a 2-d object (H, W), found shape (${a.shape.join(', ')})`);
  }
  const count = a.shape[0] * a.shape[1];
  const data = new Float32Array(2 * count);
  if (a.dtype === 'complex64' || a.dtype === 'complex128') {
    data.set(a.data as Float32Array | Float64Array);
  } else if (a.dtype === 'float32' || a.dtype === 'float64' || a.dtype === 'float16') {
    for (let k = 0; k < count; k++) data[2 * k] = Number(a.data[k]);
  } else {
    throw new ArgumentError(`${where}: expected a complex (or real) object, found ${a.dtype}`);
  }
  for (const v of data) if (!Number.isFinite(v)) throw new ArgumentError(`${where}: the object holds non-finite values`);
  return { dtype: 'complex64', shape: [...a.shape], data };
}

/** Reads a complex object from an NPY file, or from an NPZ file's `object` or `objectGuess`. */
export async function readObject(path: string): Promise<ObjectFile> {
  if (extname(path).toLowerCase() === '.npy') {
    return { path, key: '.npy', object: toComplex(await readNpy(path), path), origin: [0, 0], kind: 'unknown' };
  }
  const npz = await NpzFile.open(path);
  try {
    if (npz.has('object')) {
      const object = toComplex(await npz.read('object'), `${path}: object`);
      const origin = npz.has('origin') ? Array.from((await npz.read('origin')).data as Float64Array) : [0, 0];
      if (origin.length !== 2 || !origin.every(Number.isInteger)) throw new ArgumentError(`${path}: origin must hold two whole numbers`);
      let region: Region | undefined;
      if (npz.has('xcoords') && npz.has('ycoords')) {
        const x = (await npz.read('xcoords')).data as Float64Array;
        const y = (await npz.read('ycoords')).data as Float64Array;
        if (x.length > 0 && x.length === y.length) region = scannedRegion(Float64Array.from(x), Float64Array.from(y));
      }
      return { path, key: 'object', object, origin: origin as [number, number], region, kind: 'reconstruction' };
    }
    if (npz.has('objectGuess')) {
      const object = toComplex(await npz.read('objectGuess'), `${path}: objectGuess`);
      const truth = npz.has(TRUTH_KEY) && Number((await npz.read(TRUTH_KEY)).data[0]) !== 0;
      return { path, key: 'objectGuess', object, origin: [0, 0], kind: objectKindOf(object, truth ? 'ground truth' : 'unknown') };
    }
    throw new ArgumentError(`${path}: holds neither 'object' (a ptychopinn reconstruction) nor 'objectGuess'; ` +
      `its arrays are ${npz.members.map((m) => m.replace(/\.npy$/, '')).join(', ')}`);
  } finally {
    npz.close();
  }
}
