// The typed wrapper in which arrays travel through the package: { dtype, shape, data }.
// Complex arrays are interleaved (re, im) in a float array of twice the element count.

/** The element types an `NdArray` may hold (those of NumPy files this package reads). */
export type DType =
  | 'bool' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'float16' | 'float32' | 'float64' | 'complex64' | 'complex128';

/** The typed array behind each dtype (complex: interleaved real, imaginary). */
export interface DataOf {
  bool: Uint8Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  // Node 20 has no Float16Array: float16 values are held widened.
  float16: Float32Array;
  float32: Float32Array;
  float64: Float64Array;
  complex64: Float32Array;
  complex128: Float64Array;
}

/** An n-dimensional array in C order: dtype, shape and a typed array. */
export interface NdArray<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: DataOf[D];
}

/** A complex64 array (interleaved float32 real and imaginary parts). */
export type ComplexArray = NdArray<'complex64'>;
/** A float32 array. */
export type FloatArray = NdArray<'float32'>;

export const isComplex = (dtype: DType): dtype is 'complex64' | 'complex128' =>
  dtype === 'complex64' || dtype === 'complex128';

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function shapeText(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}
