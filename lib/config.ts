// Typed configuration with the reference's defaults (SPEC sections 5, 6 and 9). Every error names
// the option by its command-line flag, so the same message serves the API and the CLI.

export type AmpActivation = 'silu' | 'sigmoid' | 'softplus' | 'relu';
export type LossMode = 'poisson' | 'mae';
export type Scheduler = 'none' | 'exponential' | 'plateau';

/** What the network is: fixed at training, restored from a bundle. */
export interface ModelConfig {
  /** Pattern size N (64, 128 or 256): taken from the data. */
  N: number;
  gridsize: number;
  nFiltersScale: number;
  ampActivation: AmpActivation;
  probeBig: boolean;
  objectBig: boolean;
  /** Soft circular mask on the probe (radius N/2). */
  probeMask: boolean;
}

export interface TrainingConfig {
  maxEpochs: number;
  batchSize: number;
  learningRate: number;
  nGroups: number;
  /** K of SPEC section 3; absent: 4, or gridsize^2 when that is larger. */
  neighborCount?: number;
  oversample: boolean;
  seed: number;
  lossMode: LossMode;
  scheduler: Scheduler;
  earlyStopPatience: number;
}

export interface InferenceConfig {
  /** The first n_images patterns (or groups at gridsize > 1) in file order; all when omitted. */
  nImages?: number;
  inferenceBatchSize: number;
  /** Recompute the intensity scale from the test data instead of the training scale. */
  rescaleInference: boolean;
  /** Stitching weights: the central N/2 x N/2 of each patch, or the probe's intensity. */
  stitchWeights: 'center' | 'probe';
}

export const defaultModelConfig: Omit<ModelConfig, 'N'> = {
  gridsize: 2,
  nFiltersScale: 2,
  ampActivation: 'silu',
  probeBig: true,
  objectBig: true,
  probeMask: false,
};

export const defaultTrainingConfig: TrainingConfig = {
  maxEpochs: 100,
  batchSize: 16,
  learningRate: 1e-3,
  nGroups: 512,
  oversample: false,
  seed: 42,
  lossMode: 'poisson',
  scheduler: 'none',
  earlyStopPatience: 100,
};

export const defaultInferenceConfig: InferenceConfig = {
  inferenceBatchSize: 64,
  rescaleInference: false,
  stitchWeights: 'center',
};

/** The command-line flag of each option, for messages. */
const flags: Record<string, string> = {
  N: 'N', gridsize: 'gridsize', nFiltersScale: 'n_filters_scale', ampActivation: 'amp_activation',
  probeBig: 'probe_big', objectBig: 'object_big', probeMask: 'probe_mask', maxEpochs: 'max_epochs',
  batchSize: 'batch_size', learningRate: 'learning_rate', nGroups: 'n_groups',
  neighborCount: 'neighbor_count', oversample: 'oversample', seed: 'seed', lossMode: 'loss_mode',
  scheduler: 'scheduler', earlyStopPatience: 'early_stop_patience', nImages: 'n_images',
  inferenceBatchSize: 'inference_batch_size', rescaleInference: 'rescale_inference',
  stitchWeights: 'stitch_weights', threads: 'threads',
};

export class ConfigError extends RangeError {
  override name = 'ConfigError';
  constructor(readonly option: string, message: string) {
    super(`--${flags[option] ?? option} ${message}`);
  }
}

function integer(config: object, key: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  const value = (config as Record<string, unknown>)[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(key, `must be an integer ${range}, got ${JSON.stringify(value)}`);
  }
}

function oneOf(config: object, key: string, allowed: readonly unknown[]): void {
  const value = (config as Record<string, unknown>)[key];
  if (!allowed.includes(value)) {
    throw new ConfigError(key, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
}

function positive(config: object, key: string): void {
  const value = (config as Record<string, unknown>)[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(key, `must be a positive number, got ${JSON.stringify(value)}`);
  }
}

function unknownKeys(config: object, known: object, what: string): void {
  for (const key of Object.keys(config)) {
    if (!(key in known)) throw new ConfigError(key, `is not a ${what} option`);
  }
}

export function resolveModelConfig(partial: Partial<ModelConfig> & { N: number }): ModelConfig {
  unknownKeys(partial, { ...defaultModelConfig, N: 0 }, 'model');
  const config = { ...defaultModelConfig, ...partial };
  oneOf(config, 'N', [64, 128, 256]);
  integer(config, 'gridsize', 1, 4);
  integer(config, 'nFiltersScale', 1, 8);
  oneOf(config, 'ampActivation', ['silu', 'sigmoid', 'softplus', 'relu']);
  for (const key of ['probeBig', 'objectBig', 'probeMask'] as const) oneOf(config, key, [true, false]);
  return config;
}

export function resolveTrainingConfig(partial: Partial<TrainingConfig> = {}): TrainingConfig {
  unknownKeys(partial, { ...defaultTrainingConfig, neighborCount: 0 }, 'training');
  const config = { ...defaultTrainingConfig, ...partial };
  integer(config, 'maxEpochs', 1);
  integer(config, 'batchSize', 1);
  positive(config, 'learningRate');
  integer(config, 'nGroups', 1);
  if (config.neighborCount !== undefined) integer(config, 'neighborCount', 1);
  oneOf(config, 'oversample', [true, false]);
  integer(config, 'seed', 0, 2 ** 32 - 1);
  oneOf(config, 'lossMode', ['poisson', 'mae']);
  oneOf(config, 'scheduler', ['none', 'exponential', 'plateau']);
  integer(config, 'earlyStopPatience', 1);
  return config;
}

export function resolveInferenceConfig(partial: Partial<InferenceConfig> = {}): InferenceConfig {
  unknownKeys(partial, { ...defaultInferenceConfig, nImages: 0 }, 'inference');
  const config = { ...defaultInferenceConfig, ...partial };
  if (config.nImages !== undefined) integer(config, 'nImages', 1);
  integer(config, 'inferenceBatchSize', 1);
  oneOf(config, 'rescaleInference', [true, false]);
  oneOf(config, 'stitchWeights', ['center', 'probe']);
  return config;
}
