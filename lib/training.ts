// Training a PtychoPINN model on a dataset (SPEC sections 3, 4 and 6): grouping, the intensity
// scale, then the native loop off the main thread with progress and cancellation.
import type { NativeGrouped, NativeTrainOutcome } from './binding.js';
import {
  ConfigError, type ModelConfig, ModelConfigSchema, type Precision, type TrainingConfig, TrainingConfigSchema, flagOf,
  type ResolvedScheduler, type Scheduler, resolveModelConfig, resolveScheduler, resolveTrainingConfig,
} from './config.js';
import { type Dataset, DatasetError, checkDataset, patternCount, patternSize } from './dataset.js';
import { countedProgress, runNative } from './jobs.js';
import { type Groups, groupPositions } from './grouping.js';
import { PtychoPinnModel, type TrainingHistory, nativeOf } from './model.js';
import type { NativeOptions } from './physics.js';
import { maskProbe, normalizeProbe } from './probe.js';
import { patternSubset, reconstructIterative } from './iterative.js';
import { inputNormalization, intensityScale } from './scaling.js';
import { resolvePrecision, resolveThreads } from './threads.js';
import { AbortedError, ArgumentError, PtychoPinnError } from './errors.js';

/** One finished batch of training, as `onProgress` receives it. */
export interface TrainingProgress {
  /** 1-based epoch and the number of epochs. */
  epoch: number;
  epochs: number;
  /** 1-based batch of this epoch and the batches per epoch. */
  batch: number;
  batches: number;
  /** This batch's loss. */
  loss: number;
  /** Groups per second over this epoch so far. */
  samplesPerSecond: number;
  learningRate: number;
  /** The last batch of an epoch: `epochLoss` (and `validationLoss` with validation data) are set. */
  epochEnd: boolean;
  epochLoss?: number;
  validationLoss?: number | null;
}

/** The model and training configuration of `train`, partial: defaults fill the rest. */
export interface TrainConfig {
  model?: Partial<Omit<ModelConfig, 'N'>>;
  training?: Partial<TrainingConfig>;
}

/** How `train` runs: threads, progress, cancellation, checkpoints and validation data. */
export interface TrainOptions extends NativeOptions {
  /** Called after every batch (epochEnd on the last of an epoch) on the main thread. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Aborting stops after the current batch and returns the weights trained so far. */
  signal?: AbortSignal;
  /** A validation set (the reference's --test_data_file), grouped the same way. */
  validation?: Dataset;
  /** Called with each grouping warning (e.g. fewer positions than n_groups). */
  onWarning?: (message: string) => void;
  /** Continue this model's run (a checkpoint or an interrupted run, from loadModel). */
  resume?: PtychoPinnModel;
  /** Every K epochs, hand the model with a resumable state to `onCheckpoint`. */
  checkpointEvery?: number;
  /** Receives the model at each checkpoint; `improved`: this stretch reached a new best loss. */
  onCheckpoint?: (model: PtychoPinnModel, improved: boolean) => Promise<void> | void;
}

/** Training stopped on a NaN or infinite loss; `model` holds the last good weights. */
export class TrainingError extends PtychoPinnError {
  override name = 'TrainingError';
  constructor(message: string, readonly model: PtychoPinnModel) {
    super('ERR_PTYCHOPINN_TRAINING', message);
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

const emptyHistory = (): TrainingHistory => ({
  epochLoss: [], validationLoss: [], batchLoss: [], learningRate: [], stop: 'completed', seconds: 0,
});

/** `training` with its `auto` choices made for this CPU and pattern size N: what runs, and what the model records. */
export function resolveAutoChoices<T extends Pick<TrainingConfig, 'precision' | 'scheduler'>>(training: T, N: number):
  Omit<T, 'precision' | 'scheduler'> & { precision: 'fp32' | 'bf16'; scheduler: ResolvedScheduler } {
  return { ...training, precision: resolvePrecision(training.precision), scheduler: resolveScheduler(training.scheduler, N) };
}

// A resumed run takes its configuration from the bundle; only max_epochs may change (to extend a
// run), anything else given explicitly must equal what the run was started with.
function resumedConfig(from: PtychoPinnModel, config: TrainConfig): { model: ModelConfig; training: TrainingConfig } {
  if (!from.resumeState || !from.training) {
    throw new ArgumentError('resume: this model holds no training state to resume from (it is a finished model, not a checkpoint or an interrupted run)');
  }
  const training = resolveTrainingConfig({ ...from.training, ...(config.training?.maxEpochs !== undefined ? { maxEpochs: config.training.maxEpochs } : {}) });
  if (resolveScheduler(training.scheduler, from.config.N) === 'cosine' && training.maxEpochs !== from.training.maxEpochs) {
    // the cosine schedule is drawn over the whole run: a longer run is another schedule
    throw new ConfigError('training.maxEpochs', 'max_epochs', `cannot change on resuming a run with the cosine schedule (it was ${from.training.maxEpochs})`);
  }
  for (const [section, given, saved] of [['model', config.model, from.config], ['training', config.training, from.training]] as const) {
    for (const [key, value] of Object.entries(given ?? {})) {
      if (value === undefined || key === 'maxEpochs') continue;
      const before = (saved as Record<string, unknown>)[key];
      // a bundle records the precision and schedule that ran, which `auto` may name again
      const same = key === 'precision' ? resolvePrecision(value as Precision) === before
        : key === 'scheduler' ? resolveScheduler(value as Scheduler, from.config.N) === before : value === before;
      if (!same) {
        throw new ConfigError(`${section}.${key}`, flagOf(section === 'model' ? ModelConfigSchema : TrainingConfigSchema, [key]),
          `is ${JSON.stringify(value)}, but the run being resumed used ${JSON.stringify(before)}; drop the option to resume`);
      }
    }
  }
  return { model: from.config, training };
}

/**
 * Trains a new model on `dataset` (or continues `options.resume`); resolves with the model, its
 * history in `model.history`. With `checkpointEvery`, `onCheckpoint` receives the model every K
 * epochs with a resumable state; with early stopping the model holds the best epoch's weights.
 */
export async function train(dataset: Dataset, config: TrainConfig = {},
  options: TrainOptions = {}): Promise<PtychoPinnModel> {
  checkDataset(dataset);
  const N = patternSize(dataset);
  const resumed = options.resume;
  const { model: modelConfig, training: requested } = resumed
    ? resumedConfig(resumed, config)
    : { model: resolveModelConfig({ ...config.model, N }), training: resolveTrainingConfig(config.training) };
  // the bundle records the precision and schedule that ran, not `auto`
  const training = resolveAutoChoices(requested, N);
  if (modelConfig.N !== N) throw new ArgumentError(`${dataset.source}: patterns are ${N} x ${N}, the run being resumed has N = ${modelConfig.N}`);
  const threads = resolveThreads(options.threads);
  if (options.checkpointEvery !== undefined && !(Number.isInteger(options.checkpointEvery) && options.checkpointEvery >= 1)) {
    throw new ConfigError('checkpointEvery', 'checkpoint_every', `must be an integer of at least 1, got ${JSON.stringify(options.checkpointEvery)}`);
  }
  if (options.validation) {
    checkDataset(options.validation);
    if (patternSize(options.validation) !== N) {
      throw new DatasetError(options.validation.source, 'diffraction', `validation patterns are ${patternSize(options.validation)} x ${patternSize(options.validation)}, training patterns ${N} x ${N}`);
    }
  }
  if (options.signal?.aborted) throw new AbortedError('training was aborted before it started: nothing was trained');

  const groups = group(dataset, modelConfig, training);
  for (const warning of groups.warnings) options.onWarning?.(warning);
  let scale: number;
  try {
    scale = intensityScale(dataset.diffraction.data, N, groups.indices);
  } catch (error) {
    // the chosen patterns hold no light: the file's problem, named as such
    throw new DatasetError(dataset.source, 'diffraction', (error as Error).message, { cause: error });
  }
  let start = dataset.probe;
  if (!resumed && training.probeInit === 'epie') {
    // over the patterns the network trains on. A quarter of ePIE's full probe step: the full step
    // carries each pattern's noise into the probe (Run1084 at 1e6 photons, 10 iterations from a
    // probe defocused and 20 % too bright: overlap with the truth 0.9921 at the full step, 0.9948
    // at a quarter, and the network then trains to phase SSIM 0.821 and 0.850, the true probe 0.869)
    const retrieved = await reconstructIterative(patternSubset(dataset, groups.indices).subset, {
      method: 'epie', iterations: training.probeInitIterations, probeStart: Math.min(2, training.probeInitIterations - 1),
      beta: 0.25, threads, signal: options.signal,
    });
    if (retrieved.stop === 'cancelled') throw new AbortedError('training was aborted while ePIE retrieved the probe: nothing was trained');
    start = retrieved.probe;
  }
  const probe = normalizeProbe(modelConfig.probeMask ? maskProbe(start) : start).probe;
  if (resumed && resumed.intensityScale !== scale) {
    throw new ArgumentError(`${dataset.source}: this is not the data the resumed run was trained on (its intensity scale is ${scale}, the run's ${resumed.intensityScale})`);
  }
  // the bundle's probe is the one the physics used
  const model = resumed ?? new PtychoPinnModel({
    config: modelConfig, probe, intensityScale: scale, seed: training.seed, training,
    inputNorm: training.inputNorm === 'pixel' ? inputNormalization(dataset.diffraction.data, N, scale, groups.indices) : undefined,
  });
  model.training = training;
  const validation = options.validation
    ? nativeGrouped(options.validation, group(options.validation, modelConfig, training))
    : undefined;
  const trainData = nativeGrouped(dataset, groups);

  const cancel = () => nativeOf(model).cancel();
  options.signal?.addEventListener('abort', cancel, { once: true });
  const started = performance.now();
  const history = resumed?.history ? structuredClone(resumed.history) : emptyHistory();
  const previousSeconds = history.seconds;
  let state = resumed?.resumeState?.state;
  let best = resumed?.resumeState?.best;
  let callbackError: unknown;
  try {
    for (;;) {
      const done = state?.epoch ?? 0;
      const every = options.checkpointEvery;
      const untilEpoch = every ? Math.min(training.maxEpochs, (Math.floor(done / every) + 1) * every) : undefined;
      // a throwing callback must not become an uncaught exception: stop training and rethrow
      const progress = countedProgress(options.onProgress && ((p: TrainingProgress) => {
        try {
          options.onProgress!(p);
        } catch (error) {
          callbackError ??= error;
          nativeOf(model).cancel();
        }
      }));
      const outcome: NativeTrainOutcome = await runNative('train', threads, () => nativeOf(model).train({
        train: trainData, validation, probe: model.probe.data, scale,
        epochs: training.maxEpochs, batchSize: training.batchSize, learningRate: training.learningRate,
        seed: training.seed, loss: training.lossMode, scheduler: training.scheduler,
        earlyStopPatience: training.earlyStopPatience, objectBig: modelConfig.objectBig,
        probeTrainable: training.probeTrainable, probeRateScale: training.probeLrScale,
        probeStartEpoch: training.probeStartEpoch, inputNorm: model.inputNorm, precision: training.precision, threads,
        untilEpoch, resume: state,
      }, progress.report));
      // one report per finished batch
      await progress.drained(outcome.batchLoss.length);
      history.epochLoss.push(...outcome.epochLoss);
      history.validationLoss.push(...outcome.validationLoss);
      history.batchLoss.push(...outcome.batchLoss);
      history.learningRate.push(...outcome.learningRate);
      history.stop = outcome.stop === 'checkpoint' ? 'completed' : outcome.stop;
      history.seconds = previousSeconds + (performance.now() - started) / 1000;
      state = outcome.state;
      if (outcome.best) best = outcome.best;
      // the refined probe is the model's from now on: the bundle saves it, a resumed run starts from it
      if (outcome.probe) model.probe = { dtype: 'complex64', shape: [N, N], data: outcome.probe };
      model.history = history;
      model.resumeState = { state, best };
      if (callbackError !== undefined) throw callbackError;
      if (outcome.stop === 'non_finite') {
        throw new TrainingError(`${dataset.source}: training stopped: ${outcome.message}; ` +
          'the model keeps the weights from before that batch (try a lower --learning_rate)', model);
      }
      if (outcome.stop !== 'checkpoint') break;
      await options.onCheckpoint?.(model, outcome.best !== undefined);
      if (options.signal?.aborted) {
        history.stop = 'cancelled';
        break;
      }
    }
    // early stopping ends on the best epoch's weights, not on the `patience` epochs after it
    if (history.stop === 'early_stop' && best) {
      model.loadParameters(best.filter((p) => p.name !== 'probe'));
      const probe = best.find((p) => p.name === 'probe');
      if (probe) model.probe = { dtype: 'complex64', shape: [N, N], data: probe.data };
    }
    return model;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }
}
