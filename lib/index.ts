export { version } from './version.js';
import { addon } from './binding.js';
export { addon, loadAddon, AddonLoadError, type LoadedAddon, type NativeBinding } from './binding.js';
export type { DType, NdArray, ComplexArray, FloatArray } from './ndarray.js';
export { diffract, poissonLossGradient, type LossAndGradient, type NativeOptions } from './physics.js';

/** The LibTorch version the addon was built against (loads the addon). */
export function torchVersion(): string {
  return addon().binding.torchVersion;
}
