// The physics forward model (SPEC section 6, gridsize 1) exposed for checks and simulation:
// patch x probe -> orthonormal FFT -> fftshift -> amplitude, and the Poisson loss's gradient.
import { addon } from './binding.js';
import { type ComplexArray, type FloatArray, elementCount, shapeText } from './ndarray.js';
import { runNative } from './jobs.js';
import { resolveThreads } from './threads.js';
import { ArgumentError } from './errors.js';

/** Options every LibTorch call takes. */
export interface NativeOptions {
  /** LibTorch threads for this call (default: every core). */
  threads?: number;
}

function checkPatches(patches: ComplexArray, probe: ComplexArray): number {
  if (patches.dtype !== 'complex64' || probe.dtype !== 'complex64') {
    throw new ArgumentError(`patches and probe must be complex64, got ${patches.dtype} and ${probe.dtype}`);
  }
  const [b, n, m] = patches.shape;
  if (patches.shape.length !== 3 || n !== m || n < 1 || b < 1) {
    throw new ArgumentError(`patches must have shape (B, N, N), got ${shapeText(patches.shape)}`);
  }
  if (probe.shape.length !== 2 || probe.shape[0] !== n || probe.shape[1] !== n) {
    throw new ArgumentError(`probe must have shape (${n}, ${n}) to match the patches, got ${shapeText(probe.shape)}`);
  }
  for (const [name, a] of [['patches', patches], ['probe', probe]] as const) {
    if (a.data.length !== 2 * elementCount(a.shape)) {
      throw new ArgumentError(`${name} holds ${a.data.length / 2} complex values, its shape ${shapeText(a.shape)} needs ${elementCount(a.shape)}`);
    }
  }
  return n;
}

/** Far-field amplitudes (B, N, N) of complex patches (B, N, N) under the probe (N, N). */
export async function diffract(patches: ComplexArray, probe: ComplexArray,
  options: NativeOptions = {}): Promise<FloatArray> {
  checkPatches(patches, probe);
  const threads = resolveThreads(options.threads);
  const out = await runNative('diffract', threads, () => addon().binding.diffract(patches.data, patches.shape, probe.data, threads));
  return { dtype: 'float32', shape: out.shape, data: out.data };
}

export interface LossAndGradient {
  /** Mean over the batch of sum over pixels of (A^2 - X^2 log A^2). */
  loss: number;
  /** dLoss/dRe(patch) + i dLoss/dIm(patch), shaped like the patches. */
  gradient: ComplexArray;
}

/** The Poisson loss of patches against measured amplitudes, and its gradient. */
export async function poissonLossGradient(patches: ComplexArray, probe: ComplexArray,
  measured: FloatArray, options: NativeOptions = {}): Promise<LossAndGradient> {
  checkPatches(patches, probe);
  if (measured.dtype !== 'float32' || shapeText(measured.shape) !== shapeText(patches.shape) ||
      measured.data.length !== elementCount(measured.shape)) {
    throw new ArgumentError(`measured must be float32 of shape ${shapeText(patches.shape)}, got ${measured.dtype} ${shapeText(measured.shape)}`);
  }
  const threads = resolveThreads(options.threads);
  const out = await runNative('poissonLossGradient', threads, () => addon().binding.poissonLossGradient(
    patches.data, patches.shape, probe.data, measured.data, threads));
  return { loss: out.loss, gradient: { dtype: 'complex64', shape: [...patches.shape], data: out.gradient } };
}

/**
 * object_big: the C patches of each group (B, C, N, N) placed at their offsets
 * (B, C, 2) = (dx, dy) from the group centroid, each counting in its central N/2 x N/2, averaged
 * where they overlap, and each member's N x N patch cut back out; where no member's centre
 * reaches, a member keeps its own values (the probe lights the whole patch).
 */
export async function mergeGroup(patches: ComplexArray, offsets: Float32Array,
  options: NativeOptions = {}): Promise<ComplexArray> {
  const [b, c, n, m] = patches.shape;
  if (patches.dtype !== 'complex64' || patches.shape.length !== 4 || n !== m ||
      patches.data.length !== 2 * elementCount(patches.shape)) {
    throw new ArgumentError(`patches must be complex64 (B, C, N, N), got ${patches.dtype} ${shapeText(patches.shape)}`);
  }
  if (offsets.length !== b * c * 2) throw new ArgumentError(`offsets must hold ${b} x ${c} x 2 values, got ${offsets.length}`);
  const threads = resolveThreads(options.threads);
  const out = await runNative('mergeGroup', threads, () => addon().binding.mergeGroup(patches.data, patches.shape, offsets, threads));
  return { dtype: 'complex64', shape: out.shape, data: out.data };
}
