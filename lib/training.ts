// Training a PtychoPINN model on a dataset (SPEC sections 3, 4 and 6): grouping, the intensity
// scale, then the native loop off the main thread with progress and cancellation.
import type { NativeGrouped, NativeProgress } from './binding.js';
import {
  type ModelConfig, type TrainingConfig, resolveModelConfig, resolveTrainingConfig,
} from './config.js';
import { type Dataset, patternCount, patternSize } from './dataset.js';
import { type Groups, groupPositions } from './grouping.js';
import { PtychoPinnModel, type TrainingHistory } from './model.js';
import type { NativeOptions } from './physics.js';
import { maskProbe } from './probe.js';
import { intensityScale } from './scaling.js';
import { resolveThreads } from './threads.js';

export type TrainingProgress = NativeProgress;

export interface TrainConfig {
  model?: Partial<Omit<ModelConfig, 'N'>>;
  training?: Partial<TrainingConfig>;
}

export interface TrainOptions extends NativeOptions {
  /** Called after every batch (epochEnd on the last of an epoch) on the main thread. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Aborting stops after the current batch and returns the weights trained so far. */
  signal?: AbortSignal;
  /** A validation set (the reference's --test_data_file), grouped the same way. */
  validation?: Dataset;
  /** Called with each grouping warning (e.g. fewer positions than n_groups). */
  onWarning?: (message: string) => void;
}

/** Training stopped on a NaN or infinite loss; `model` holds the last good weights. */
export class TrainingError extends Error {
  override name = 'TrainingError';
  constructor(message: string, readonly model: PtychoPinnModel) {
    super(message);
  }
}

function nativeGrouped(dataset: Dataset, groups: Groups): NativeGrouped {
  return {
    diffraction: dataset.diffraction.data, nPatterns: patternCount(dataset),
    groups: groups.indices, nGroups: groups.count, offsets: Float32Array.from(groups.offsets),
  };
}

function group(dataset: Dataset, model: ModelConfig, training: TrainingConfig): Groups {
  return groupPositions(dataset.xcoords, dataset.ycoords, {
    gridsize: model.gridsize, nGroups: training.nGroups, neighborCount: training.neighborCount,
    seed: training.seed, oversample: training.oversample,
  });
}

/** Trains a new model on `dataset`; resolves with the model, its history in `model.history`. */
export async function train(dataset: Dataset, config: TrainConfig = {},
  options: TrainOptions = {}): Promise<PtychoPinnModel> {
  const N = patternSize(dataset);
  const modelConfig = resolveModelConfig({ ...config.model, N });
  const training = resolveTrainingConfig(config.training);
  const threads = resolveThreads(options.threads);
  if (options.validation && patternSize(options.validation) !== N) {
    throw new RangeError(`${options.validation.source}: validation patterns are ${patternSize(options.validation)} x ${patternSize(options.validation)}, training patterns ${N} x ${N}`);
  }
  options.signal?.throwIfAborted();

  const groups = group(dataset, modelConfig, training);
  for (const warning of groups.warnings) options.onWarning?.(warning);
  const scale = intensityScale(dataset.diffraction.data, N, groups.indices);
  const probe = modelConfig.probeMask ? maskProbe(dataset.probe) : dataset.probe;
  // the bundle's probe is the one the physics used
  const model = new PtychoPinnModel({
    config: modelConfig, probe, intensityScale: scale, seed: training.seed, training,
  });
  const validation = options.validation
    ? nativeGrouped(options.validation, group(options.validation, modelConfig, training))
    : undefined;

  const cancel = () => model.native.cancel();
  options.signal?.addEventListener('abort', cancel, { once: true });
  const started = performance.now();
  let callbackError: unknown;
  // Progress crosses threads through a queue that may still hold the last reports when the
  // training promise settles: one report per finished batch, so wait for batchLoss.length.
  let delivered = 0;
  let expected = Infinity;
  let allDelivered = () => {};
  const drained = new Promise<void>((resolve) => { allDelivered = resolve; });
  try {
    const outcome = await model.native.train({
      train: nativeGrouped(dataset, groups), validation, probe: probe.data, scale,
      epochs: training.maxEpochs, batchSize: training.batchSize, learningRate: training.learningRate,
      seed: training.seed, loss: training.lossMode, scheduler: training.scheduler,
      earlyStopPatience: training.earlyStopPatience, objectBig: modelConfig.objectBig, threads,
    }, options.onProgress && ((p) => {
      // a throwing callback must not become an uncaught exception: stop training and rethrow
      try {
        options.onProgress!(p);
      } catch (error) {
        callbackError ??= error;
        model.native.cancel();
      }
      if (++delivered >= expected) allDelivered();
    }));
    expected = outcome.batchLoss.length;
    if (options.onProgress && delivered < expected) await drained;
    const history: TrainingHistory = {
      epochLoss: outcome.epochLoss, validationLoss: outcome.validationLoss,
      batchLoss: outcome.batchLoss, learningRate: outcome.learningRate, stop: outcome.stop,
      seconds: (performance.now() - started) / 1000,
    };
    model.history = history;
    if (callbackError !== undefined) throw callbackError;
    if (outcome.stop === 'non_finite') {
      throw new TrainingError(`${dataset.source}: training stopped: ${outcome.message}; ` +
        'the model keeps the weights from before that batch (try a lower --learning_rate)', model);
    }
    return model;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }
}
