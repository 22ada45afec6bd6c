// The one loader of the native addons, and the typed interface of what they export. The LibTorch
// addon: a local build/Release (made on this machine, for the LibTorch the install chose), then
// the prebuild made for the system LibTorch's version (scripts/prebuilds.cjs). The metrics addon,
// which links no LibTorch: a local build, then the package's prebuild.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readDynamicSection } from './elf.js';
import { PtychoPinnError } from './errors.js';
import type { TrainingProgress } from './training.js';
import type { InputNorm } from './model.js';

const require = createRequire(import.meta.url);

interface Prebuilt { file: string; version: string }
interface Prebuilds {
  METRICS_PREBUILD: string;
  listPrebuilds(root: string): Prebuilt[];
  prebuildDir(root: string): string;
  systemLibtorch(): { version: string; libdir: string } | null;
  choosePrebuild(available: Prebuilt[], system: { version: string; libdir: string } | null): { chosen?: Prebuilt; reason: string };
}

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

/** The raw binding. Arguments are validated in TypeScript before they get here. */
export interface NativeBinding {
  torchVersion: string;
  /** How the addon set up the C library's allocator for tensors (native/allocator.cc). */
  allocator: string;
  /** The network's memory layout in training and inference, chosen by LibTorch version and CPU (native/network.h). */
  layout: string;
  /** Whether this LibTorch was built with CUDA and sees a GPU. */
  cudaAvailable: boolean;
  /** Complex patch (interleaved) of shape patchShape and complex probe -> amplitudes. */
  diffract(patch: Float32Array, patchShape: number[], probe: Float32Array,
    threads: number): Promise<NativeTensor>;
  poissonLossGradient(patch: Float32Array, patchShape: number[], probe: Float32Array,
    measured: Float32Array, threads: number): Promise<{ loss: number; gradient: Float32Array }>;
  /** Complex object (H, W) sampled at positions (x, y interleaved) into (K, n, n) patches. */
  extractPatches(object: Float32Array, objectShape: number[], positions: Float64Array, n: number,
    threads: number): Promise<NativeTensor>;
  stitch(patches: Float32Array, patchShape: number[], positions: Float64Array, weights: Float32Array,
    canvas: { originRow: number; originCol: number; height: number; width: number }, floor: number,
    threads: number, align?: { groups: Int32Array; passes: number }): Promise<NativeTensor>;
  /** Fresnel propagation of a complex probe (n, n) by defocus (pixel^2 units). */
  propagate(probe: Float32Array, n: number, defocus: number, threads: number): Promise<NativeTensor>;
  /** object_big of complex (B, C, N, N) patches at offsets (B, C, 2). */
  mergeGroup(patches: Float32Array, patchShape: number[], offsets: Float32Array,
    threads: number): Promise<NativeTensor>;
  Model: new (config: NativeModelConfig) => NativeModel;
  /** ePIE / rPIE on the chosen patterns; cancel() stops it after the current pattern batch. */
  iterate(args: NativeIterateArgs, onProgress?: (p: NativeIterateProgress) => void): {
    promise: Promise<NativeIterateResult>; cancel(): void;
  };
}

/** The metrics addon (native/metrics/addon.cc): plain C++, single-threaded, no LibTorch. */
export interface MetricsBinding {
  compareObjects(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], options: {
    offsetRow: number; offsetCol: number; top: number; left: number; height: number; width: number;
    registration: boolean; maxShift: number; upsample: number; removeRamp: boolean;
  }): Promise<NativeComparison>;
  registerShift(reference: Float64Array, moving: Float64Array, shape: number[], maxShift: number, upsample: number): [number, number];
  ssim(x: Float64Array, y: Float64Array, shape: number[], dataRange: number): number;
  frc(x: Float64Array, y: Float64Array, shape: number[]): NativeFrc;
}

export interface NativeFrc {
  frequency: number[];
  frc: number[];
  halfBit: number[];
  pixels: number[];
  halfBitCrossing: number | null;
  seventhCrossing: number | null;
}

export interface NativeScores {
  mae: number; rmse: number; psnr: number | null; ssim: number; correlation: number; dataRange: number; frc: NativeFrc;
}

export interface NativeComparison {
  shift: [number, number];
  phaseOffset: number;
  phaseRamp: [number, number];
  amplitudeScale: number;
  pixels: number;
  complexCorrelation: number;
  amplitude: NativeScores;
  phase: NativeScores;
  images: { amplitudeA: Float32Array; amplitudeB: Float32Array; phaseA: Float32Array; phaseB: Float32Array; covered: Float32Array };
}

export interface NativeIterateArgs {
  diffraction: Float32Array;
  nPatterns: number;
  patterns: Int32Array;
  /** (x, y) interleaved, one pair a chosen pattern. */
  positions: Float64Array;
  probe: Float32Array;
  n: number;
  canvas: { originRow: number; originCol: number; height: number; width: number };
  initial?: Float32Array;
  method: 'epie' | 'rpie';
  iterations: number;
  probeStart: number;
  alpha: number;
  beta: number;
  positionStart: number;
  seed: number;
  threads: number;
}

export interface NativeIterateProgress { iteration: number; iterations: number; error: number }

export interface NativeIterateResult {
  object: Float32Array;
  objectShape: number[];
  probe: Float32Array;
  positions: Float64Array;
  error: number[];
  cancelled: boolean;
}

export interface NativeModelConfig {
  n: number;
  channels: number;
  filterScale: number;
  ampActivation: string;
  probeBig: boolean;
  /** The C members through one single-pattern network (member_network shared). */
  sharedMembers: boolean;
  seed: number;
}

/** A grouped dataset over JS memory: groups (G, C) pattern indices, offsets (G, C, 2). */
export interface NativeGrouped {
  diffraction: Float32Array;
  nPatterns: number;
  groups: Int32Array;
  nGroups: number;
  offsets: Float32Array;
}

export interface NativeTrainArgs {
  train: NativeGrouped;
  validation?: NativeGrouped;
  probe: Float32Array;
  scale: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  loss: 'poisson' | 'mae';
  scheduler: 'none' | 'exponential' | 'plateau' | 'cosine';
  earlyStopPatience: number;
  objectBig: boolean;
  /** Refine the probe (starting from `probe`) with the network, at its starting power. */
  probeTrainable?: boolean;
  /** The probe's learning rate over the network's (default 1). */
  probeRateScale?: number;
  /** The first epoch (0-based) in which the probe is updated (default 0). */
  probeStartEpoch?: number;
  /** Per-pixel standardisation of the network's input (N x N each); the loss keeps the data as given. */
  inputNorm?: InputNorm;
  precision: 'fp32' | 'bf16';
  threads: number;
  /** Return with stop 'checkpoint' once this many epochs are complete. */
  untilEpoch?: number;
  /** Continue from the state a previous call returned. */
  resume?: NativeTrainState;
}

export interface NativePredictArgs extends Omit<NativeGrouped, 'offsets'> {
  scale: number;
  /** As in training. */
  inputNorm?: InputNorm;
  /** Patterns per forward pass (whole groups, at least one). */
  batchSize: number;
  precision: 'fp32' | 'bf16';
  threads: number;
  /** Return every group's patches (G, C, N, N). */
  keepPatches: boolean;
  /**
   * Stitch batch by batch: positions (G * C) x (x, y) in group order, added to `sums` (a
   * `CanvasSum`'s state) when given, else to a blank canvas.
   */
  stitch?: { positions: Float64Array; weights: Float32Array; canvas: NativeCanvas; sums?: Float32Array };
  /** Int32Array(1) over a SharedArrayBuffer: Atomics.store 1 to stop before the next batch. */
  cancel?: Int32Array;
}

/** A canvas: the object coordinates (row, column) of its pixel [0, 0] and its size. */
export interface NativeCanvas {
  originRow: number;
  originCol: number;
  height: number;
  width: number;
}

export interface NativePrediction {
  patches?: NativeTensor;
  /** The stitch's running sums (H * W, 3) after this call's patches. */
  sums?: NativeTensor;
}

/** What the loop carries besides the weights (native/training.h, TrainState). */
export interface NativeTrainState {
  epoch: number;
  batch: number;
  epochSum: number;
  learningRate: number;
  best: number | null;
  bestEpoch: number;
  sinceBest: number;
  plateauBest: number | null;
  plateauWait: number;
  adam: { name: string; step: number; expAvg: Float32Array; expAvgSq: Float32Array }[];
}

/** What the training loop reports after each batch (lib/training.ts documents it). */
export type NativeProgress = TrainingProgress;

export interface NativeTrainOutcome {
  stop: 'completed' | 'cancelled' | 'early_stop' | 'non_finite' | 'checkpoint';
  message: string;
  batchLoss: number[];
  epochLoss: number[];
  validationLoss: (number | null)[];
  learningRate: number[];
  state: NativeTrainState;
  /**
   * The weights at the best monitored loss, when this call improved on it; with a trainable probe
   * also its real and imaginary parts (N, N, 2), named 'probe'.
   */
  best?: NativeParameter[];
  /** A trainable probe where the loop stopped: complex (N, N), interleaved. */
  probe?: Float32Array;
}

/** A named weight of the network (or the refined probe, as (N, N, 2)). */
export interface NativeParameter {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface NativeModel {
  readonly parameterCount: number;
  train(args: NativeTrainArgs, onProgress?: (p: NativeProgress) => void): Promise<NativeTrainOutcome>;
  predict(args: NativePredictArgs, onProgress?: (p: { done: number; total: number }) => void): Promise<NativePrediction>;
  cancel(): void;
  /** Frees the network; every later call but cancel() throws. */
  dispose(): void;
  getParameters(): NativeParameter[];
  setParameters(parameters: NativeParameter[]): void;
}

export interface LoadedAddon {
  binding: NativeBinding;
  /** The .node file that was loaded. */
  file: string;
  /** Why this file: a local build, or which prebuild for which LibTorch. */
  origin: string;
}

/** The package root: the folder with package.json, above lib/ (source) or dist/lib/ (built). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new PtychoPinnError('ERR_PTYCHOPINN_ADDON', 'ptychopinn: cannot find the package root');
    dir = up;
  }
  return dir;
}

/** The native addon is missing, or cannot be loaded: the message says what was looked for and what to run. */
export class AddonLoadError extends PtychoPinnError {
  override name = 'AddonLoadError';
  constructor(message: string) {
    super('ERR_PTYCHOPINN_ADDON', message);
  }
}

/** This package's own scripts/prebuilds.cjs (it ships with the package, and the install used it too). */
function prebuildsModule(): Prebuilds {
  return require(join(packageRoot(), 'scripts', 'prebuilds.cjs')) as Prebuilds;
}

/** The addon file to load under `root` and why, or the error that says what is missing. */
export function findAddon(root: string = packageRoot()): { file: string; origin: string } {
  const local = join(root, 'build', 'Release', 'ptychopinn.node');
  if (existsSync(local)) return { file: local, origin: 'a local build' };
  const prebuilds = prebuildsModule();
  const available = prebuilds.listPrebuilds(root);
  // not the environment: LIBTORCH chooses what the install builds against, while a prebuild's
  // RPATH (a system folder) decides what it loads
  const { chosen, reason } = prebuilds.choosePrebuild(available, prebuilds.systemLibtorch());
  if (chosen) return { file: chosen.file, origin: reason };
  throw new AddonLoadError(
    `ptychopinn: this command needs the native addon (LibTorch), and this install has none it can use. ` +
    `There is no local build (${local}), and in ${prebuilds.prebuildDir(root)}/: ${reason}. ` +
    'The install builds the addon when it finds LibTorch and a compiler (cmake, g++ with C++20): on Debian or Ubuntu ' +
    '`sudo apt-get install --no-install-recommends libtorch-dev` (or `pip install torch`, or LIBTORCH=<root>), ' +
    'then `npm rebuild ptychopinn` (in this package\'s own folder: `npm install` or `npm run build:addon`). ' +
    'Without it, NPY/NPZ, inspect, compare, export-onnx and infer --backend onnx still work.');
}

export function loadAddon(root: string = packageRoot()): LoadedAddon {
  const { file, origin } = findAddon(root);
  try {
    return { binding: require(file) as NativeBinding, file, origin };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const missing = /(lib(torch|c10)[\w.-]*\.so[\w.]*)/.exec(message);
    const hint = missing
      ? `The LibTorch it was built against (${missing[1]}) cannot be found at run time: ` +
        'reinstall that LibTorch or rebuild with `npm run build:addon`.'
      : 'Rebuild it with `npm run build:addon`.';
    throw new AddonLoadError(`ptychopinn: cannot load the native addon ${file} (${origin}): ${message}\n${hint}`);
  }
}

let loaded: LoadedAddon | undefined;

/** The addon, loaded on first use so that torch-free features work without it. */
export function addon(): LoadedAddon {
  loaded ??= loadAddon();
  return loaded;
}

/** The metrics addon file to load under `root` and why, or the error that says what is missing. */
export function findMetricsAddon(root: string = packageRoot()): { file: string; origin: string } {
  const local = join(root, 'build', 'Release', 'ptychopinn_metrics.node');
  if (existsSync(local)) return { file: local, origin: 'a local build' };
  const prebuilds = prebuildsModule();
  const prebuilt = join(prebuilds.prebuildDir(root), prebuilds.METRICS_PREBUILD);
  if (existsSync(prebuilt)) return { file: prebuilt, origin: 'prebuilt (it links no LibTorch)' };
  throw new AddonLoadError(
    'ptychopinn: the quality metrics need the metrics addon (it links no LibTorch), and this install has none: ' +
    `there is no local build (${local}) and no prebuild (${prebuilt}). ` +
    'The install builds it where cmake and g++ (C++20) are on PATH: install them, then `npm rebuild ptychopinn`.');
}

let loadedMetrics: { binding: MetricsBinding; file: string; origin: string } | undefined;

/** The metrics addon, loaded on first use. */
export function metricsAddon(): { binding: MetricsBinding; file: string; origin: string } {
  if (loadedMetrics) return loadedMetrics;
  const { file, origin } = findMetricsAddon();
  try {
    loadedMetrics = { binding: require(file) as MetricsBinding, file, origin };
  } catch (error) {
    throw new AddonLoadError(`ptychopinn: cannot load the metrics addon ${file} (${origin}): ${(error as Error).message}\n` +
      'Rebuild it with `npm rebuild ptychopinn` (cmake and g++ with C++20 on PATH).');
  }
  return loadedMetrics;
}

/**
 * The LibTorch libraries (libc10, libtorch_cpu, libtorch) that the addon `file` links against, as
 * the files the dynamic linker will take: from its DT_RPATH, or its DT_RUNPATH when no
 * LD_LIBRARY_PATH comes before it. Empty when that cannot be told for certain (a library found
 * only through LD_LIBRARY_PATH or the linker's cache): loading another file by the same name would
 * put two LibTorches in the process.
 */
export function libtorchOf(file: string): string[] {
  const dynamic = readDynamicSection(file);
  if (!dynamic) return [];
  // glibc ignores DT_RPATH when DT_RUNPATH is there, and searches LD_LIBRARY_PATH before DT_RUNPATH
  const dirs = dynamic.runpath.length > 0 ? (process.env.LD_LIBRARY_PATH ? [] : dynamic.runpath) : dynamic.rpath;
  const files: string[] = [];
  for (const name of dynamic.needed.filter((n) => /^lib(c10|torch_cpu|torch)\.so/.test(n))) {
    const dir = dirs.find((d) => existsSync(join(d, name)));
    if (!dir) return [];
    files.push(join(dir, name));
  }
  return files;
}

/**
 * Starts loading LibTorch on another thread, for a command that will soon need the addon and has
 * other work to do first (its own modules, its inputs). Debian's LibTorch takes 0.5-0.9 s to load
 * (some 290 libraries, 130,000 relocations, the operator registry's initialisers); on a second core
 * that overlaps with the rest, and the later {@link addon} finds the libraries in place. Only the
 * libraries are opened there, never the addon, whose initialiser calls into Node: a process that
 * exits meanwhile waits for the load to finish and then exits as it would have. Does nothing on one
 * core, when the addon is loaded, or when the files cannot be told for certain ({@link libtorchOf}).
 */
export function preloadLibtorch(): void {
  if (loaded || availableParallelism() < 2) return;
  let libraries: string[];
  try {
    libraries = libtorchOf(findAddon().file);
  } catch {
    return;
  }
  if (libraries.length === 0) return;
  try {
    // not an addon: process.dlopen fails with "did not self-register" once the library is in, and
    // RTLD_NODELETE keeps it in when Node then closes the handle
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const { RTLD_LAZY, RTLD_NODELETE } = require('node:os').constants.dlopen;
       for (const file of workerData) {
         try { process.dlopen({ exports: {} }, file, RTLD_LAZY | RTLD_NODELETE); } catch {}
       }`,
      { eval: true, workerData: libraries, execArgv: [], stdout: true, stderr: true, name: 'ptychopinn LibTorch preload' });
    worker.on('error', () => {});
    worker.unref();
  } catch {
    // no thread to be had (a process limit, a permission model): the addon loads them later
  }
}

