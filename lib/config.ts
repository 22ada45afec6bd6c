// The one schema of every configuration (SPEC sections 5, 6 and 9), with the reference's defaults.
// Types, defaults, command-line flags and messages all come from here: an API caller reads
// "training.batchSize must be ...", a command-line user "--batch_size must be ...".
import * as z from 'zod';
import { PtychoPinnError } from './errors.js';

const says = (text: string) => ({ error: text });

function integer(min: number, max?: number) {
  const text = max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
  const schema = z.number(says(text)).int(says(text)).min(min, says(text));
  return max === undefined ? schema : schema.max(max, says(text));
}
const positive = () => z.number(says('a positive finite number')).positive(says('a positive finite number'));
const nonNegative = () => z.number(says('a number from 0 to 1e6')).min(0, says('a number from 0 to 1e6'))
  .max(1e6, says('a number from 0 to 1e6'));
const boolean = () => z.boolean(says('true or false'));
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, says(`one of ${values.join(', ')}`));

/** The command-line flag of a field (read back by `flagOf`). */
const flag = <T extends z.ZodType>(schema: T, name: string): T => schema.meta({ flag: name });

export const AMP_ACTIVATIONS = ['silu', 'sigmoid', 'softplus', 'relu'] as const;
export const LOSS_MODES = ['poisson', 'mae'] as const;
/** `auto`: `cosine` for patterns of 128 x 128 or larger, `none` below (README: Another object, and N = 128). */
export const SCHEDULERS = ['auto', 'none', 'exponential', 'plateau', 'cosine'] as const;
export const STITCH_WEIGHTS = ['center', 'probe'] as const;
export const PATTERN_SIZES = [64, 128, 256] as const;
/** `auto`: bf16 where the CPU has bf16 dot products (AVX512_BF16 or AMX), fp32 elsewhere. */
export const PRECISIONS = ['auto', 'fp32', 'bf16'] as const;
export const PROBE_INITS = ['file', 'epie'] as const;
export const INPUT_NORMS = ['none', 'pixel'] as const;
export const INFERENCE_GROUPINGS = ['cover', 'every'] as const;
/** At gridsize > 1: one network over a group's C patterns as channels (the reference's), or one single-pattern network shared by the members. */
export const MEMBER_NETWORKS = ['joint', 'shared'] as const;

/** What the network is: fixed at training, restored from a bundle. */
export const ModelConfigSchema = z.strictObject({
  /** Pattern size N (64, 128 or 256): taken from the data. */
  N: flag(z.literal(PATTERN_SIZES, says('64, 128 or 256')), 'N'),
  gridsize: flag(integer(1, 4).default(2), 'gridsize'),
  nFiltersScale: flag(integer(1, 8).default(2), 'n_filters_scale'),
  ampActivation: flag(oneOf(AMP_ACTIVATIONS).default('silu'), 'amp_activation'),
  probeBig: flag(boolean().default(true), 'probe_big'),
  objectBig: flag(boolean().default(true), 'object_big'),
  /**
   * At gridsize > 1, `joint` feeds a group's C patterns to the network as channels and has it
   * return C patches (the reference's); `shared` runs each member's pattern through the same
   * single-pattern network, so the members meet only in the object_big merge and the physics.
   */
  memberNetwork: flag(oneOf(MEMBER_NETWORKS).default('joint'), 'member_network'),
  /** Soft circular mask on the probe (radius N/2). */
  probeMask: flag(boolean().default(false), 'probe_mask'),
});

/** The training configuration, with the reference's defaults. */
export const TrainingConfigSchema = z.strictObject({
  maxEpochs: flag(integer(1, 1e6).default(100), 'max_epochs'),
  batchSize: flag(integer(1, 1 << 20).default(16), 'batch_size'),
  learningRate: flag(positive().default(1e-3), 'learning_rate'),
  nGroups: flag(integer(1, 2 ** 31 - 1).default(512), 'n_images'),
  /** K, the nearest neighbours each group is drawn from; absent: 4, or gridsize^2 when that is larger. */
  neighborCount: flag(integer(1, 1024).optional(), 'neighbor_count'),
  oversample: flag(boolean().default(false), 'oversample'),
  seed: flag(integer(0, 2 ** 32 - 1).default(42), 'seed'),
  lossMode: flag(oneOf(LOSS_MODES).default('poisson'), 'loss_mode'),
  /**
   * The learning rate's schedule. `auto`: cosine (a warm-up of at most an epoch, then a fall to 5 %
   * of the rate) at N >= 128, where without it the network learnt nothing in 16 epochs with two
   * seeds of three (with it, two reached the object); none at N = 64, where it helped one seed, not another, and
   * cost a little at the reference's budget. A trained model records which ran.
   */
  scheduler: flag(oneOf(SCHEDULERS).default('auto'), 'scheduler'),
  earlyStopPatience: flag(integer(1, 1e6).default(100), 'early_stop_patience'),
  /**
   * Precision of the network's convolutions (bf16: LibTorch's CPU autocast; physics and loss fp32).
   * `auto`: bf16 on CPUs with bf16 dot products, fp32 elsewhere; a trained model records which ran.
   * fp32 by default: bf16 training is 1.35-1.5 times as fast but cost about 0.02 of phase SSIM at
   * the reference's budget (README: Performance).
   */
  precision: flag(oneOf(PRECISIONS).default('fp32'), 'precision'),
  /**
   * Refine the probe with the network: a parameter of the physics, started from the file's probe
   * and held at its power. The bundle keeps the refined probe.
   */
  probeTrainable: flag(boolean().default(false), 'probe_trainable'),
  /**
   * Where the training probe starts: the file's, or the probe that `probeInitIterations` of ePIE
   * retrieve from the overlaps of the patterns the network trains on (which the network's loss hardly constrains: it
   * absorbs a probe's error into each patch's object).
   */
  probeInit: flag(oneOf(PROBE_INITS).default('file'), 'probe_init'),
  /** ePIE iterations of probeInit 'epie' (the probe is refined from the third, or from the last when there are fewer). */
  probeInitIterations: flag(integer(1, 10000).default(10), 'probe_init_iterations'),
  /** With probeTrainable: the probe's learning rate as a multiple of the network's. */
  probeLrScale: flag(nonNegative().default(1), 'probe_lr_scale'),
  /** With probeTrainable: the first epoch (0-based) in which the probe changes. */
  probeStartEpoch: flag(integer(0, 1e6).default(0), 'probe_start_epoch'),
  /**
   * The network's input: the scaled patterns as they are, or standardised pixel by pixel with the
   * training patterns' mean and standard deviation (kept in the bundle, applied at inference).
   */
  inputNorm: flag(oneOf(INPUT_NORMS).default('none'), 'input_norm'),
});

/** The inference configuration. */
export const InferenceConfigSchema = z.strictObject({
  /** gridsize 1: the first n_images patterns in file order; gridsize > 1: n_images groups drawn as in training; all when omitted. */
  nImages: flag(integer(1, 2 ** 31 - 1).optional(), 'n_images'),
  /**
   * Patterns per forward pass, rounded down to whole groups. 16: at 64 one N = 64 activation is 67
   * MB and the network runs at a third of the rate (41 against 139 patterns/s, fp32).
   */
  inferenceBatchSize: flag(integer(1, 1 << 16).default(16), 'inference_batch_size'),
  /**
   * Precision of the network's convolutions; the stitch is fp32 either way. `auto`: bf16 on CPUs
   * with AVX512_BF16 or AMX (twice the fp32 rate; on the quality benchmark the phase SSIM moves by
   * less than 0.005), fp32 elsewhere, where bf16 would be emulated and slower.
   */
  precision: flag(oneOf(PRECISIONS).default('auto'), 'precision'),
  /**
   * gridsize > 1 without n_images: which groups are predicted. `every`: one group seeded at each
   * position, so each pattern is predicted about C times. `cover`: only the groups needed for
   * every position to be in one (the seeds drawn in the same way): half the time or less.
   */
  inferenceGroups: flag(oneOf(INFERENCE_GROUPINGS).default('cover'), 'inference_groups'),
  /** Recompute the intensity scale from the test data instead of the training scale. */
  rescaleInference: flag(boolean().default(false), 'rescale_inference'),
  /** Stitching weights: the central N/2 x N/2 of each patch, or the probe's intensity. */
  stitchWeights: flag(oneOf(STITCH_WEIGHTS).default('center'), 'stitch_weights'),
  /**
   * Rounds of phase alignment of the groups before stitching (0: average as they come). Off by
   * default: trained networks here give consistent phases, and at gridsize 1 the alignment lowered
   * the fixture's phase correlation (0.933 -> 0.820); it is for networks whose groups disagree.
   */
  alignPhases: flag(integer(0, 100).default(0), 'align_phases'),
});

/** LibTorch threads of a native call. */
export const ThreadsSchema = flag(integer(1, 1024), 'threads');

export type AmpActivation = (typeof AMP_ACTIVATIONS)[number];
export type LossMode = (typeof LOSS_MODES)[number];
export type Scheduler = (typeof SCHEDULERS)[number];
/** A schedule the training loop runs: `auto` resolved by the pattern size. */
export type ResolvedScheduler = Exclude<Scheduler, 'auto'>;
export type Precision = (typeof PRECISIONS)[number];
export type InferenceGrouping = (typeof INFERENCE_GROUPINGS)[number];
export type InputNormMode = (typeof INPUT_NORMS)[number];
export type MemberNetwork = (typeof MEMBER_NETWORKS)[number];
/** A complete, validated model configuration. */
export type ModelConfig = z.output<typeof ModelConfigSchema>;
/** A complete, validated training configuration. */
export type TrainingConfig = z.output<typeof TrainingConfigSchema>;
/** A complete, validated inference configuration. */
export type InferenceConfig = z.output<typeof InferenceConfigSchema>;

const defaults = <S extends z.ZodType>(schema: S, value: unknown): z.output<S> => schema.parse(value);
export const defaultModelConfig: Omit<ModelConfig, 'N'> = (({ N: _, ...rest }) => rest)(defaults(ModelConfigSchema, { N: 64 }));
export const defaultTrainingConfig: TrainingConfig = defaults(TrainingConfigSchema, {});
export const defaultInferenceConfig: InferenceConfig = defaults(InferenceConfigSchema, {});

/** An option with a value it cannot take. `field` is the API's name, `flag` the command line's. */
export class ConfigError extends PtychoPinnError {
  override name = 'ConfigError';
  constructor(readonly field: string, readonly flag: string | undefined, readonly detail: string) {
    super('ERR_PTYCHOPINN_CONFIG', `${field} ${detail}`, { exitCode: 2 });
  }

  /** The message as a command-line user needs it. */
  get flagMessage(): string {
    return this.flag ? `--${this.flag} ${this.detail}` : this.message;
  }
}

export function flagOf(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  let node: z.ZodType | undefined = schema;
  for (const key of path) {
    const shape: Record<string, z.ZodType> | undefined = (node as { shape?: Record<string, z.ZodType> } | undefined)?.shape;
    node = shape?.[String(key)];
  }
  return (node?.meta() as { flag?: string } | undefined)?.flag;
}

const show = (value: unknown) => {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
};

/** Parses `value` with `schema`; the first problem becomes a ConfigError naming the field. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, at: string): z.output<S> {
  const result = schema.safeParse(value ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const join = (path: readonly PropertyKey[]) => [at, ...path.map(String)].filter(Boolean).join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    return fail(join([...issue.path, key]), undefined, `is not an option here (${at || 'the configuration'} takes ${Object.keys((schema as unknown as { shape: object }).shape).join(', ')})`);
  }
  const expected = issue.message === 'Invalid input' ? 'is not valid' : `must be ${issue.message}`;
  const given = issue.path.length === 0 && typeof value === 'object' ? `a ${typeof value}` : show(issue.input);
  return fail(join(issue.path), flagOf(schema, issue.path), `${expected}, got ${given}`);
}

function fail(field: string, flagName: string | undefined, detail: string): never {
  throw new ConfigError(field, flagName, detail);
}

/** Validates a partial model configuration and fills in the defaults; throws `ConfigError` naming the field (under `at`). */
export function resolveModelConfig(partial: unknown, at = 'model'): ModelConfig {
  return parseConfig(ModelConfigSchema, partial, at);
}

/** Validates a partial training configuration and fills in the defaults; throws `ConfigError` naming the field. */
export function resolveTrainingConfig(partial: unknown = {}, at = 'training'): TrainingConfig {
  return parseConfig(TrainingConfigSchema, partial, at);
}

/** The schedule `auto` stands for at pattern size N; any other schedule is itself. */
export function resolveScheduler(scheduler: Scheduler, N: number): ResolvedScheduler {
  if (scheduler !== 'auto') return scheduler;
  return N >= 128 ? 'cosine' : 'none';
}

/** Validates a partial inference configuration and fills in the defaults; throws `ConfigError` naming the field. */
export function resolveInferenceConfig(partial: unknown = {}, at = 'options'): InferenceConfig {
  return parseConfig(InferenceConfigSchema, partial, at);
}
