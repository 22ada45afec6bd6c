// `ptychopinn/internal`: the native addons and test hooks. Not part of the public API: what is here
// may change in any release; the addon's functions trust their callers' arguments more than the
// public API does.
export { addon, loadAddon, metricsAddon, type LoadedAddon, type MetricsBinding, type NativeBinding, type NativeModel } from './binding.js';
export { nativeOf } from './model.js';
export { poissonLossGradient, type LossAndGradient } from './physics.js';
