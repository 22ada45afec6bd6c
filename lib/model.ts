// A PtychoPINN model: the native network with the configuration, probe and intensity scale it was
// trained with, and reconstruction of a dataset's object from it (SPEC section 7).
import { type NativeModel, type NativeParameter, type NativeTrainState, addon } from './binding.js';
import type { InferenceConfig, ModelConfig, TrainingConfig } from './config.js';
import { type InferenceInput, amplitudeAndPhase, planInference } from './inference.js';
import type { ComplexArray, FloatArray } from './ndarray.js';
import type { NativeOptions } from './physics.js';
import { CanvasSum, type StitchedObject, interleave, stitch } from './stitching.js';
import { chunkPatterns } from './patterns.js';
import { countedProgress, runNative } from './jobs.js';
import { resolvePrecision, resolveThreads } from './threads.js';
import { AbortedError, ArgumentError, nativeSync } from './errors.js';

export { amplitudeAndPhase } from './inference.js';

// Pattern values per predict call (4 MB of float32: 256 patterns at N = 64), held three times
// (read, gathered, the addon's copy), but at least 8 batches (128 patterns at N = 128 and the
// default batch): each call ends by returning freed memory to the kernel, which the next refaults.
const CHUNK_VALUES = 1 << 20;
const MIN_BATCHES_PER_CHUNK = 8;

/** The losses and learning rates of a training run, per epoch and per batch, and how it stopped. */
export interface TrainingHistory {
  epochLoss: number[];
  validationLoss: (number | null)[];
  batchLoss: number[];
  learningRate: number[];
  /** How training ended. */
  stop: 'completed' | 'cancelled' | 'early_stop' | 'non_finite';
  seconds: number;
}

/** A stitched reconstruction: the complex object, its amplitude and phase, where it lies in object coordinates, and the patches when kept. */
export interface Reconstruction {
  /** Complex object (H, W) stitched from every chosen pattern. */
  object: ComplexArray;
  amplitude: FloatArray;
  phase: FloatArray;
  /** Object coordinates (row, column) of pixel [0, 0]. */
  origin: [number, number];
  /** The patterns stitched (file indices, a group's members in order) and their positions. */
  patterns: Int32Array;
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** The network's complex patches (G, C, N, N), when asked for (`keepPatches`). */
  patches?: ComplexArray;
  /** The intensity scale the network input was divided by. */
  intensityScale: number;
  /** The precision the network ran at (`auto` resolved). */
  precision: 'fp32' | 'bf16';
}

/** Options of `PtychoPinnModel.reconstruct`: the inference configuration, threads, progress and cancellation. */
export type ReconstructOptions = Partial<InferenceConfig> & NativeOptions & {
  /** Seed of the grouping at gridsize > 1 (default: the model's training seed). */
  seed?: number;
  /**
   * Also return every group's patches (G x C x N x N complex: 35 MB for 1087 patterns at N = 64).
   * Without them (and without phase alignment) the patches are stitched batch by batch as the
   * network makes them, and memory does not grow with the number of patterns.
   */
  keepPatches?: boolean;
  /** After each batch: groups done of the total. */
  onProgress?: (progress: { done: number; total: number }) => void;
  /**
   * Stops the reconstruction before its next batch, which then rejects with an AbortedError; an
   * abort once the last batch has begun lets it finish and resolve.
   */
  signal?: AbortSignal;
};

/**
 * Per-pixel mean and standard deviation (N x N each, row-major) of the training patterns divided
 * by the intensity scale: the network sees (x - mean) / std, the physics x itself.
 */
export interface InputNorm {
  mean: Float32Array;
  std: Float32Array;
}

/** Everything a model is besides its weights: what a bundle's manifest and probe.npy hold. */
export interface ModelState {
  /** What the network is. */
  config: ModelConfig;
  /** The training probe (N, N). */
  probe: ComplexArray;
  /** The intensity scale s the patterns are divided by in training, reused at inference. */
  intensityScale: number;
  /** The network input's per-pixel standardisation (`inputNorm: 'pixel'`), reused at inference. */
  inputNorm?: InputNorm;
  /** Weight initialisation seed, and the default grouping seed. */
  seed: number;
  training?: TrainingConfig;
  history?: TrainingHistory;
  resumeState?: ResumeState;
  trainingData?: string;
}

/** Where a run stopped: what `train({ resume })` needs to continue it bit for bit. */
export interface ResumeState {
  state: NativeTrainState;
  /** The weights at the best monitored loss so far. */
  best?: NativeParameter[];
}

// The addon's network of each model: not a property, so that it is neither in the published types
// nor reachable from a model at run time (ptychopinn/internal's nativeOf reaches it).
const networks = new WeakMap<PtychoPinnModel, NativeModel>();

/** The addon's network of a model (`ptychopinn/internal`: the raw binding, outside the public API). */
export function nativeOf(model: PtychoPinnModel): NativeModel {
  const network = networks.get(model);
  if (!network) throw new ArgumentError('not a PtychoPinnModel made by this package');
  return network;
}

/** A trained (or loaded) PtychoPINN: the network, its configuration, training probe and intensity scale. Reconstructs datasets, saves bundles, exports ONNX; `dispose()` frees the network. */
export class PtychoPinnModel {
  readonly config: ModelConfig;
  /** The training probe (N, N), normalised; refined by training with `probeTrainable`. */
  probe: ComplexArray;
  readonly intensityScale: number;
  /** The input standardisation the network was trained with, if any. */
  readonly inputNorm?: InputNorm;
  readonly seed: number;
  training?: TrainingConfig;
  history?: TrainingHistory;
  /** Set by train(): the loop's state where it stopped (saved by saveModel with resumable). */
  resumeState?: ResumeState;
  /** The file the model was trained on, when known (a resumed run reads it again). */
  trainingData?: string;

  /** A network with freshly initialised weights (seeded). */
  constructor(state: ModelState) {
    const { config } = state;
    this.config = config;
    this.probe = state.probe;
    this.intensityScale = state.intensityScale;
    this.inputNorm = state.inputNorm;
    this.seed = state.seed;
    this.training = state.training;
    this.history = state.history;
    this.resumeState = state.resumeState;
    this.trainingData = state.trainingData;
    networks.set(this, nativeSync('creating the network', () => new (addon().binding.Model)({
      n: config.N, channels: config.gridsize ** 2, filterScale: config.nFiltersScale,
      ampActivation: config.ampActivation, probeBig: config.probeBig, sharedMembers: config.memberNetwork === 'shared', seed: this.seed,
    })));
  }

  /** The LibTorch the network runs on. */
  get torchVersion(): string {
    return addon().binding.torchVersion;
  }

  get parameterCount(): number {
    return nativeOf(this).parameterCount;
  }

  /** Copies of the weights, by parameter name, in the network's order. */
  parameters(): NativeParameter[] {
    return nativeSync('reading the weights', () => nativeOf(this).getParameters());
  }

  /** Replaces every weight; names and shapes must match the network exactly, values finite. */
  loadParameters(parameters: NativeParameter[]): void {
    for (const p of parameters) {
      const bad = p.data?.findIndex?.((v) => !Number.isFinite(v)) ?? -1;
      if (bad >= 0) throw new ArgumentError(`parameter ${p.name} holds a non-finite value (${p.data[bad]}) at element ${bad}`);
    }
    nativeSync('loading the weights', () => nativeOf(this).setParameters(parameters));
  }

  /**
   * The network as an ONNX graph (protobuf bytes, opset 17): input `diffraction` (batch, C, N, N)
   * measured amplitudes, outputs `real` and `imag` (batch, C, N, N); the intensity scale is applied
   * inside, and the metadata carries what grouping and stitching need.
   */
  async toOnnx(): Promise<Uint8Array> {
    // loaded on first use: protobufjs and the ONNX schema are of no use to most commands
    const { encodeOnnxModel } = await import('./onnx/export.js');
    return encodeOnnxModel({
      config: this.config, training: this.training, probe: this.probe, weights: this.parameters(), intensityScale: this.intensityScale,
      inputNorm: this.inputNorm, seed: this.seed,
    });
  }

  /** Writes `toOnnx()` to `path` (a temporary file renamed when complete). */
  async exportOnnx(path: string): Promise<void> {
    const { writeOnnxModel } = await import('./onnx/export.js');
    await writeOnnxModel(path, await this.toOnnx());
  }

  /**
   * Frees the network's memory now instead of at garbage collection. The model cannot be used
   * afterwards; a call still running finishes.
   */
  dispose(): void {
    nativeOf(this).dispose();
  }

  /** The object of a dataset: the network on its patterns, stitched at their scan positions. */
  async reconstruct(dataset: InferenceInput, options: ReconstructOptions = {}): Promise<Reconstruction> {
    const { threads, seed, keepPatches: _keep, onProgress, signal, ...inference } = options;
    if (signal?.aborted) throw new AbortedError('the reconstruction was aborted before it started');
    const plan = await planInference(this, dataset, { ...inference, seed });
    const { config, source, n, c, total, groups, nGroups, scale, xcoords, ycoords, weights, canvas } = plan;
    const nativeThreads = resolveThreads(threads);
    const precision = resolvePrecision(config.precision);
    // each group's phase is free (SPEC section 13): alignment needs every patch before the stitch
    const align = config.alignPhases > 0;
    const stream = !align;
    const keepPatches = align || (options.keepPatches ?? false);
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const abort = () => Atomics.store(cancel, 0, 1);
    signal?.addEventListener('abort', abort, { once: true });
    const sum = stream ? new CanvasSum(canvas, weights, n) : undefined;
    const kept = keepPatches ? new Float32Array(2 * groups.length * n * n) : undefined;
    // Chunk by chunk, each a call of its own: only a chunk's patterns are copied for the addon,
    // and the stitch's running sums carry over, so memory does not grow with the dataset.
    const groupsPerChunk = plan.groupsPerBatch * Math.max(MIN_BATCHES_PER_CHUNK, Math.floor(CHUNK_VALUES / (plan.groupsPerBatch * c * n * n)));
    const buffer = new Float32Array(Math.min(total, groupsPerChunk * c) * n * n);
    try {
      for (let first = 0; first < nGroups; first += groupsPerChunk) {
        if (signal?.aborted) throw new AbortedError('the reconstruction was aborted: nothing was returned');
        const count = Math.min(groupsPerChunk, nGroups - first);
        const members = [first * c, (first + count) * c] as const;
        const chunk = chunkPatterns(groups.subarray(...members), total);
        const diffraction = await source.read(chunk.patterns, buffer);
        // reports in order: a chunk's last ones are delivered before the next chunk starts
        const chunkProgress = countedProgress(onProgress && ((p: { done: number }) => onProgress({ done: first + p.done, total: nGroups })));
        const predicted = await runNative('predict', nativeThreads, () => nativeOf(this).predict({
          diffraction, nPatterns: chunk.patterns.length, groups: chunk.groups, nGroups: count, scale, inputNorm: this.inputNorm,
          batchSize: config.inferenceBatchSize, precision, threads: nativeThreads, keepPatches,
          stitch: sum && { positions: interleave(xcoords.subarray(...members), ycoords.subarray(...members)), weights, canvas, sums: sum.state },
          cancel,
        }, chunkProgress.report));
        await chunkProgress.drained(Math.ceil(count / plan.groupsPerBatch));
        if (sum) sum.restore(predicted.sums!.data);
        if (kept) kept.set(predicted.patches!.data, 2 * members[0] * n * n);
      }
    } catch (error) {
      // the native loop's own word for an abort; any other failure stays what it was
      if (signal?.aborted && /\bcancelled\b/.test((error as Error).message)) throw new AbortedError('the reconstruction was aborted: nothing was returned');
      throw error;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    const patches: ComplexArray | undefined = kept && { dtype: 'complex64', shape: [nGroups, c, n, n], data: kept };
    let stitched: StitchedObject;
    if (sum) {
      stitched = { object: sum.finish(1e-3), origin: [canvas.originRow, canvas.originCol] };
    } else {
      const flat: ComplexArray = { ...patches!, shape: [groups.length, n, n] };
      const members = Int32Array.from({ length: groups.length }, (_, i) => Math.floor(i / c));
      stitched = await stitch(flat, xcoords, ycoords, { weights, threads, align: { groups: members, passes: config.alignPhases } });
    }
    const { object, origin } = stitched;
    return {
      object, ...amplitudeAndPhase(object), origin, patterns: groups, xcoords, ycoords,
      ...(options.keepPatches ? { patches } : {}), intensityScale: scale, precision,
    };
  }
}
