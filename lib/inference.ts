// What every inference backend shares (SPEC section 7): which patterns form which groups, the
// intensity scale, the positions, the stitching weights and canvas; and the result's shape. The
// LibTorch model and the ONNX model both reconstruct through this, so they group, scale and stitch
// alike.
import type { NativeCanvas } from './binding.js';
import { type InferenceConfig, type ModelConfig, type TrainingConfig, resolveInferenceConfig } from './config.js';
import { type Dataset, DatasetError, type StreamedDataset, checkDataset } from './dataset.js';
import { groupPositions } from './grouping.js';
import type { ComplexArray, FloatArray } from './ndarray.js';
import { intensityScale, scaleFromSum } from './scaling.js';
import { type PatternSource, chunkPatterns, memoryPatterns } from './patterns.js';
import { canvasFor, centerWeights, probeWeights } from './stitching.js';
import { ArgumentError } from './errors.js';

/** What a model contributes to an inference plan. */
export interface InferenceModel {
  config: ModelConfig;
  training?: TrainingConfig;
  /** The training probe (refined when training.probeTrainable); absent for a bare ONNX graph. */
  probe?: ComplexArray;
  intensityScale: number;
  seed: number;
}

/**
 * The probe training found, when it found one (refined in training, or retrieved by ePIE before
 * it): it knows the beam better than the file does. Normalised, like every training probe.
 */
export function learnedProbe(model: Pick<InferenceModel, 'training' | 'probe'>): ComplexArray | undefined {
  const learned = model.training?.probeTrainable || model.training?.probeInit === 'epie';
  return learned ? model.probe : undefined;
}

export interface InferencePlan {
  config: InferenceConfig;
  /** The dataset's patterns. */
  source: PatternSource;
  /** Pattern size N and patterns per group C. */
  n: number;
  c: number;
  /** Patterns in the file. */
  total: number;
  /** File indices of the patterns, a group's C members in order. */
  groups: Int32Array;
  nGroups: number;
  /** Whole groups per forward pass. */
  groupsPerBatch: number;
  /** The intensity scale the network's input is divided by. */
  scale: number;
  /** Each member's position (object pixels). */
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** Stitching weights (N, N) and the canvas every patch lands on. */
  weights: Float32Array;
  canvas: NativeCanvas;
}

/** What a model reconstructs: a dataset in memory, or one whose patterns are read from its file as needed. */
export type InferenceInput = Dataset | StreamedDataset;

/** The patterns of either kind of input, read by index. */
export function patternSource(input: InferenceInput): PatternSource {
  return 'patterns' in input ? input.patterns : memoryPatterns(input);
}

// The intensity scale of the chosen patterns, read 4 MB at a time: what intensityScale gives for
// them all at once, without holding them.
async function streamedScale(source: PatternSource, groups: Int32Array): Promise<number> {
  const { n } = source;
  const size = n * n;
  const block = Math.max(1, Math.floor((1 << 20) / size));
  let sum = 0;
  for (let first = 0; first < groups.length; first += block) {
    const chunk = chunkPatterns(groups.subarray(first, first + block), source.count);
    const values = await source.read(chunk.patterns);
    const totals = Array.from(chunk.patterns, (_, k) => {
      let t = 0;
      for (let i = k * size; i < (k + 1) * size; i++) t += values[i] * values[i];
      return t;
    });
    for (const k of chunk.groups) sum += totals[k];
  }
  return scaleFromSum(sum, groups.length, n);
}

export async function planInference(model: InferenceModel, dataset: InferenceInput, options: Partial<InferenceConfig> & { seed?: number }): Promise<InferencePlan> {
  const { seed, ...inference } = options;
  const config = resolveInferenceConfig(inference);
  // a streamed dataset was checked when opened, but may have been put together by hand
  if ('patterns' in dataset) {
    for (const key of ['xcoords', 'ycoords'] as const) {
      if (dataset[key].length !== dataset.patterns.count) {
        throw new DatasetError(dataset.source, key, `expected ${dataset.patterns.count} positions, one a pattern, found ${dataset[key].length}`);
      }
    }
  } else {
    checkDataset(dataset);
  }
  const source = patternSource(dataset);
  const n = source.n;
  if (n !== model.config.N) {
    throw new DatasetError(dataset.source, 'diffraction', `patterns are ${n} x ${n}, the model was trained on N = ${model.config.N}`);
  }
  const total = source.count;
  const c = model.config.gridsize ** 2;
  let groups: Int32Array;
  if (model.config.gridsize === 1) {
    // the first n_images patterns in file order, as the reference does
    const count = Math.min(config.nImages ?? total, total);
    groups = Int32Array.from({ length: count }, (_, i) => i);
  } else {
    groups = groupPositions(dataset.xcoords, dataset.ycoords, {
      gridsize: model.config.gridsize, nGroups: config.nImages ?? total, seed: seed ?? model.seed,
      neighborCount: model.training?.neighborCount, // grouped as in training
      cover: config.nImages === undefined && config.inferenceGroups === 'cover',
    }).indices;
  }
  const scale = !config.rescaleInference ? model.intensityScale
    : 'patterns' in dataset ? await streamedScale(source, groups) : intensityScale(dataset.diffraction.data, n, groups);
  const xcoords = Float64Array.from(groups, (i) => dataset.xcoords[i]);
  const ycoords = Float64Array.from(groups, (i) => dataset.ycoords[i]);
  const weights = config.stitchWeights === 'probe'
    ? probeWeights(learnedProbe(model) ?? dataset.probe)
    : centerWeights(n);
  let canvas: NativeCanvas;
  try {
    canvas = canvasFor(xcoords, ycoords, n);
  } catch (error) {
    // the canvas bound: a stray coordinate in the file, not a wrong call
    if (error instanceof ArgumentError) {
      const span = (v: Float64Array) => v.reduce((m, a) => Math.max(m, a), -Infinity) - v.reduce((m, a) => Math.min(m, a), Infinity);
      const key = span(xcoords) >= span(ycoords) ? 'xcoords' : 'ycoords';
      throw new DatasetError(dataset.source, key, error.message, { cause: error });
    }
    throw error;
  }
  return {
    config, source, n, c, total, groups, nGroups: groups.length / c, groupsPerBatch: Math.max(1, Math.floor(config.inferenceBatchSize / c)),
    scale, xcoords, ycoords, weights, canvas,
  };
}

/** The amplitude and phase of a complex object, as float32 images. */
export function amplitudeAndPhase(object: ComplexArray): { amplitude: FloatArray; phase: FloatArray } {
  const count = object.data.length / 2;
  const amplitude = new Float32Array(count);
  const phase = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    const re = object.data[2 * k];
    const im = object.data[2 * k + 1];
    amplitude[k] = Math.hypot(re, im);
    phase[k] = Math.atan2(im, re);
  }
  return {
    amplitude: { dtype: 'float32', shape: [...object.shape], data: amplitude },
    phase: { dtype: 'float32', shape: [...object.shape], data: phase },
  };
}
