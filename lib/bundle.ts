// Model bundles (SPEC section 8): one .ptpinn zip of manifest.json, weights.safetensors and
// probe.npy. The manifest holds the whole configuration, the intensity scale, the training history
// and a SHA-256 of every other entry; loading checks all of it before building a model.
import { createHash } from 'node:crypto';
import type { NativeParameter } from './binding.js';
import * as z from 'zod';
import {
  type ModelConfig, type TrainingConfig, ConfigError, ModelConfigSchema, flagOf, resolveModelConfig, resolveTrainingConfig,
} from './config.js';
import { type ModelState, PtychoPinnModel, type ResumeState } from './model.js';
import type { ComplexArray } from './ndarray.js';
import { decodeNpy, encodeNpyParts } from './npy.js';
import { type NamedTensor, decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { version } from './version.js';
import { writeZip, ZipArchive } from './zip.js';
import { PtychoPinnError } from './errors.js';

export const BUNDLE_FORMAT = 'ptychopinn-model';
export const BUNDLE_VERSION = 1;
const MANIFEST = 'manifest.json';
const WEIGHTS = 'weights.safetensors';
const PROBE = 'probe.npy';

const OPTIMIZER = 'optimizer.safetensors';
/** The network as ONNX (`withOnnx`): for `infer --backend onnx` and other runtimes. */
export const ONNX = 'model.onnx';
const BEST = 'best.safetensors';
/** `inputNorm: 'pixel'`: float32 (2, N, N), the network input's per-pixel mean and standard deviation. */
const INPUT_NORM = 'input_norm.npy';

const finite = z.number().refine(Number.isFinite, 'a finite number');
const count = z.number().int().min(0);
const HistorySchema = z.strictObject({
  epochLoss: z.array(finite),
  validationLoss: z.array(finite.nullable()),
  batchLoss: z.array(finite),
  learningRate: z.array(finite),
  stop: z.enum(['completed', 'cancelled', 'early_stop', 'non_finite']),
  seconds: z.number().min(0),
});
const ResumeSchema = z.strictObject({
  epoch: count, batch: count, epochSum: finite, learningRate: z.number().positive(),
  best: finite.nullable(), bestEpoch: count, sinceBest: count, plateauBest: finite.nullable(), plateauWait: count,
  /** Adam's step count of each parameter; the moments are in optimizer.safetensors. */
  adamSteps: z.record(z.string(), z.number().int().min(1)),
});

/** manifest.json: checked whole on load (a hand-edited manifest gets a message, not a TypeError). */
export const ManifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  formatVersion: z.number().int().min(1),
  package: z.object({ name: z.string(), version: z.string() }),
  libtorch: z.string(),
  created: z.string(),
  // checked by the configuration schemas, whose messages name the field
  config: z.object({ model: z.unknown(), training: z.unknown().optional() }),
  intensityScale: z.number().positive().refine(Number.isFinite, 'a finite number'),
  seed: z.number().int().min(0).max(2 ** 32 - 1),
  parameterCount: z.number().int().min(1),
  history: HistorySchema.optional(),
  resume: ResumeSchema.optional(),
  trainingData: z.string().optional(),
  /** SHA-256 and size of every other entry. */
  entries: z.record(z.string(), z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: count })),
});

/** A bundle's manifest.json: format version, package version, configuration, entries and their SHA-256. */
export type Manifest = Omit<z.output<typeof ManifestSchema>, 'config'> & {
  config: { model: ModelConfig; training?: TrainingConfig };
};

/** How `saveModel` writes a bundle. */
export interface SaveModelOptions {
  /**
   * Also store the training state (Adam's moments, the loop's counters, the best weights) so that
   * `train --resume` continues the run exactly: checkpoints and interrupted runs.
   */
  resumable?: boolean;
  /**
   * Weights to store instead of the model's own (the best epoch's, for checkpoints/best.ptpinn);
   * an entry named 'probe' (a trainable probe's (N, N, 2) parts at that epoch) becomes probe.npy.
   */
  weights?: NativeParameter[];
  /** Also store the network as an ONNX graph (model.onnx), hashed like every entry. */
  withOnnx?: boolean;
}

/** A model bundle (.ptpinn) that cannot be read or written: the message names the file and the entry. */
export class BundleError extends PtychoPinnError {
  override name = 'BundleError';
  constructor(readonly file: string, message: string, options?: { cause?: unknown }) {
    super('ERR_PTYCHOPINN_BUNDLE', `${file}: ${message}`, options);
  }
}

function sha256(parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
}

/** Writes the model to `path` (a temporary file renamed when complete). */
export async function saveModel(model: PtychoPinnModel, path: string, options: SaveModelOptions = {}): Promise<Manifest> {
  const parameters = (options.weights ?? model.parameters()).filter((p) => p.name !== 'probe');
  const meta = { format: 'pt', producer: `ptychopinn ${version}` };
  const weights = encodeSafetensors(parameters, meta);
  const givenProbe = options.weights?.find((p) => p.name === 'probe');
  const probe = encodeNpyParts(givenProbe ? { ...model.probe, data: givenProbe.data } : model.probe, `${path}: probe`);
  const entry = (parts: Uint8Array[]) => ({ sha256: sha256(parts), size: parts.reduce((n, p) => n + p.length, 0) });
  const extra: { name: string; parts: Uint8Array[] }[] = [];
  let resume: Manifest['resume'];
  const r = options.resumable ? model.resumeState : undefined;
  if (r) {
    const { adam, ...counters } = r.state;
    resume = { ...counters, adamSteps: Object.fromEntries(adam.map((m) => [m.name, m.step])) };
    const shapes = new Map(parameters.map((p) => [p.name, p.shape]));
    // a trainable probe's moments are over its real and imaginary parts
    shapes.set('probe', [...model.probe.shape, 2]);
    extra.push({ name: OPTIMIZER, parts: encodeSafetensors(adam.flatMap((m) => [
      { name: `${m.name}.exp_avg`, shape: shapes.get(m.name)!, data: m.expAvg },
      { name: `${m.name}.exp_avg_sq`, shape: shapes.get(m.name)!, data: m.expAvgSq },
    ]), meta) });
    if (r.best) extra.push({ name: BEST, parts: encodeSafetensors(r.best, meta) });
  }
  if (model.inputNorm) {
    const { mean, std } = model.inputNorm;
    const data = new Float32Array(2 * mean.length);
    data.set(mean);
    data.set(std, mean.length);
    const n = model.config.N;
    extra.push({ name: INPUT_NORM, parts: encodeNpyParts({ dtype: 'float32', shape: [2, n, n], data }, `${path}: input normalisation`) });
  }
  if (options.withOnnx) {
    // loaded here only: protobufjs and the schema are of no use to a bundle without the graph
    const { encodeOnnxModel } = await import('./onnx/export.js');
    const probe = givenProbe ? { ...model.probe, data: givenProbe.data } : model.probe;
    extra.push({ name: ONNX, parts: [encodeOnnxModel({
      config: model.config, training: model.training, probe, weights: parameters, intensityScale: model.intensityScale,
      inputNorm: model.inputNorm, seed: model.seed,
    })] });
  }
  const manifest: Manifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_VERSION,
    package: { name: 'ptychopinn', version },
    libtorch: model.torchVersion,
    created: new Date().toISOString(),
    config: { model: model.config, training: model.training },
    intensityScale: model.intensityScale,
    seed: model.seed,
    parameterCount: model.parameterCount,
    history: model.history,
    resume,
    trainingData: model.trainingData,
    entries: { [WEIGHTS]: entry(weights), [PROBE]: entry(probe), ...Object.fromEntries(extra.map((e) => [e.name, entry(e.parts)])) },
  };
  await writeZip(path, [
    { name: MANIFEST, parts: [Buffer.from(JSON.stringify(manifest, null, 2))], compress: true },
    // float weights barely deflate: storing keeps loading a plain copy
    { name: WEIGHTS, parts: weights, compress: false },
    { name: PROBE, parts: probe, compress: false },
    ...extra.map((e) => ({ ...e, compress: false })),
  ]);
  return manifest;
}

interface OpenBundle {
  manifest: Manifest;
  zip: ZipArchive;
}

async function openBundle(path: string): Promise<OpenBundle> {
  let zip: ZipArchive;
  try {
    zip = await ZipArchive.open(path, 'a .ptpinn model bundle');
  } catch (err) {
    // a file-system problem (missing, a folder, no permission) is already said as such
    if (typeof ((err as Error).cause as NodeJS.ErrnoException | undefined)?.errno === 'number') throw err;
    throw new BundleError(path, `not a model bundle: ${(err as Error).message.replace(`${path} `, '')}`);
  }
  try {
    const entry = zip.entries.get(MANIFEST);
    if (!entry) {
      throw new BundleError(path, `not a ptychopinn model bundle: no ${MANIFEST} (the zip holds ${[...zip.entries.keys()].join(', ') || 'nothing'})`);
    }
    let raw: { format?: unknown; formatVersion?: unknown; package?: { version?: unknown } };
    try {
      raw = JSON.parse(Buffer.from(await zip.read(entry, `${path}: ${MANIFEST}`)).toString('utf8'));
    } catch (err) {
      throw new BundleError(path, `${MANIFEST} is damaged: ${(err as Error).message}`);
    }
    const manifest = raw as Manifest;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new BundleError(path, `${MANIFEST} must hold a JSON object, found ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
    }
    if (manifest?.format !== BUNDLE_FORMAT) {
      throw new BundleError(path, `not a ptychopinn model bundle: ${MANIFEST} says format ${JSON.stringify(manifest?.format)}, expected "${BUNDLE_FORMAT}"`);
    }
    if (!Number.isInteger(manifest.formatVersion) || manifest.formatVersion < 1) {
      throw new BundleError(path, `${MANIFEST} has no valid formatVersion (found ${JSON.stringify(manifest.formatVersion)})`);
    }
    if (manifest.formatVersion > BUNDLE_VERSION) {
      throw new BundleError(path, `written by a newer ptychopinn (${manifest.package?.version ?? '?'}) in bundle format ${manifest.formatVersion}; ` +
        `this ptychopinn ${version} reads format ${BUNDLE_VERSION} at most: upgrade ptychopinn to load it`);
    }
    const checked = ManifestSchema.safeParse(raw);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new BundleError(path, `${MANIFEST}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    }
    for (const name of [...zip.entries.keys()]) {
      if (name !== MANIFEST && !Object.hasOwn(checked.data.entries, name)) {
        throw new BundleError(path, `the zip holds ${JSON.stringify(name)}, which ${MANIFEST} does not list: not a bundle this package wrote`);
      }
    }
    let config: Manifest['config'];
    try {
      config = {
        model: resolveModelConfig(checked.data.config.model, 'config.model'),
        training: checked.data.config.training === undefined ? undefined : resolveTrainingConfig(checked.data.config.training, 'config.training'),
      };
    } catch (err) {
      throw new BundleError(path, `${MANIFEST} holds an invalid configuration: ${(err as Error).message}`);
    }
    return { manifest: { ...checked.data, config }, zip };
  } catch (err) {
    zip.close();
    throw err;
  }
}

async function verifiedEntry(path: string, { manifest, zip }: OpenBundle, name: string): Promise<Uint8Array> {
  const entry = zip.entries.get(name);
  const expected = manifest.entries?.[name];
  if (!entry || !expected) throw new BundleError(path, `incomplete bundle: ${name} is missing from the ${entry ? 'manifest' : 'zip'}`);
  let bytes: Uint8Array;
  try {
    bytes = await zip.read(entry, `${path}: ${name}`);
  } catch (err) {
    throw new BundleError(path, `${name} is damaged: ${(err as Error).message}`);
  }
  const digest = sha256([bytes]);
  if (bytes.length !== expected.size || digest !== expected.sha256) {
    throw new BundleError(path, `${name} is corrupt: its SHA-256 ${digest.slice(0, 16)}… (${bytes.length} bytes) does not match the manifest's ${String(expected.sha256).slice(0, 16)}… (${expected.size} bytes)`);
  }
  return bytes;
}

function checkFinite(path: string, name: string, data: Float32Array): void {
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new BundleError(path, `${name} holds a non-finite value (${data[bad]}) at element ${bad}`);
}

async function resumeState(path: string, bundle: OpenBundle, resume: NonNullable<Manifest['resume']>): Promise<ResumeState> {
  const { adamSteps, ...counters } = resume;
  const moments = decodeSafetensors(await verifiedEntry(path, bundle, OPTIMIZER), `${path}: ${OPTIMIZER}`).tensors;
  const byName = new Map(moments.map((t) => [t.name, t.data]));
  const adam = Object.entries(adamSteps).map(([name, step]) => {
    const expAvg = byName.get(`${name}.exp_avg`);
    const expAvgSq = byName.get(`${name}.exp_avg_sq`);
    if (!expAvg || !expAvgSq) throw new BundleError(path, `${OPTIMIZER} lacks the moments of ${name}`);
    checkFinite(path, OPTIMIZER, expAvg);
    checkFinite(path, OPTIMIZER, expAvgSq);
    return { name, step, expAvg, expAvgSq };
  });
  const best = bundle.zip.entries.has(BEST)
    ? decodeSafetensors(await verifiedEntry(path, bundle, BEST), `${path}: ${BEST}`).tensors
    : undefined;
  return { state: { ...counters, adam }, best };
}

/**
 * Checks a bundle without LibTorch: every entry against its SHA-256, the weights' tensors (their
 * element count is the manifest's parameterCount, every value finite) and the probe's shape.
 * Returns the manifest; for `inspect`.
 */
export async function verifyBundle(path: string): Promise<Manifest> {
  const bundle = await openBundle(path);
  try {
    const { manifest } = bundle;
    const weights = decodeSafetensors(await verifiedEntry(path, bundle, WEIGHTS), `${path}: ${WEIGHTS}`).tensors;
    if (weights.length === 0) throw new BundleError(path, `${WEIGHTS} holds no tensors`);
    const count = weights.reduce((n, t) => n + t.data.length, 0);
    if (count !== manifest.parameterCount) {
      throw new BundleError(path, `${WEIGHTS} holds ${count} values, the manifest's network ${manifest.parameterCount}`);
    }
    for (const t of weights) checkFinite(path, `${WEIGHTS}: ${t.name}`, t.data);
    const probe = decodeNpy(await verifiedEntry(path, bundle, PROBE), `${path}: ${PROBE}`);
    const n = manifest.config.model.N;
    if (probe.dtype !== 'complex64' || probe.shape.join() !== `${n},${n}`) {
      throw new BundleError(path, `${PROBE}: expected complex64 (${n}, ${n}), found ${probe.dtype} (${probe.shape.join(', ')})`);
    }
    checkFinite(path, PROBE, probe.data as Float32Array);
    for (const name of Object.keys(manifest.entries)) await verifiedEntry(path, bundle, name);
    return manifest;
  } finally {
    bundle.zip.close();
  }
}

/** The manifest alone, checked for format and version (no LibTorch needed): for `inspect`. */
export async function readManifest(path: string): Promise<Manifest> {
  const bundle = await openBundle(path);
  bundle.zip.close();
  return bundle.manifest;
}

/** Model fields a caller set explicitly must equal the model's: the model's own always win. */
export function checkExpectedModel(path: string, config: ModelConfig, expected: Partial<ModelConfig>): void {
  for (const [key, value] of Object.entries(expected) as [keyof ModelConfig, unknown][]) {
    if (value !== undefined && value !== config[key]) {
      throw new ConfigError(key, flagOf(ModelConfigSchema, [key]), `is ${JSON.stringify(value)}, but the model in ${path} was trained with ${JSON.stringify(config[key])}; model settings come from the model: drop the flag or use another model`);
    }
  }
}

/** What a bundle holds, read and checked without LibTorch. */
export interface BundleContents {
  state: ModelState;
  weights: NamedTensor[];
  /** model.onnx, when the bundle was saved with `withOnnx`. */
  onnx?: Uint8Array;
}

/**
 * Reads a bundle: verifies every entry it reads against the manifest and restores the
 * configuration; `resume: false` skips the optimiser state of a resumable bundle. `expected` holds model fields the caller set explicitly: each must equal the
 * bundle's (the bundle's model fields always win; a different explicit value is an error).
 */
export async function readBundle(path: string, expected: Partial<ModelConfig> = {}, options: { resume?: boolean } = {}): Promise<BundleContents> {
  const bundle = await openBundle(path);
  try {
    const { manifest } = bundle;
    const { model: config, training } = manifest.config;
    checkExpectedModel(path, config, expected);
    const weights = decodeSafetensors(await verifiedEntry(path, bundle, WEIGHTS), `${path}: ${WEIGHTS}`);
    if (weights.tensors.length === 0) throw new BundleError(path, `${WEIGHTS} holds no tensors`);
    const probeArray = decodeNpy(await verifiedEntry(path, bundle, PROBE), `${path}: ${PROBE}`);
    if (probeArray.dtype !== 'complex64' || probeArray.shape.join() !== `${config.N},${config.N}`) {
      throw new BundleError(path, `${PROBE}: expected complex64 (${config.N}, ${config.N}), found ${probeArray.dtype} (${probeArray.shape.join(', ')})`);
    }
    checkFinite(path, PROBE, probeArray.data as Float32Array);
    let inputNorm: ModelState['inputNorm'];
    if (bundle.zip.entries.has(INPUT_NORM)) {
      const a = decodeNpy(await verifiedEntry(path, bundle, INPUT_NORM), `${path}: ${INPUT_NORM}`);
      if (a.dtype !== 'float32' || a.shape.join() !== `2,${config.N},${config.N}`) {
        throw new BundleError(path, `${INPUT_NORM}: expected float32 (2, ${config.N}, ${config.N}), found ${a.dtype} (${a.shape.join(', ')})`);
      }
      const data = a.data as Float32Array;
      checkFinite(path, INPUT_NORM, data);
      const size = config.N * config.N;
      const std = data.slice(size);
      if (!std.every((v) => v > 0)) throw new BundleError(path, `${INPUT_NORM}: the standard deviations (its second half) must be positive`);
      inputNorm = { mean: data.slice(0, size), std };
    }
    const state: ModelState = {
      config, training, probe: probeArray as ComplexArray, intensityScale: manifest.intensityScale, inputNorm,
      seed: manifest.seed, history: manifest.history, trainingData: manifest.trainingData,
      resumeState: options.resume !== false && manifest.resume ? await resumeState(path, bundle, manifest.resume) : undefined,
    };
    const onnx = bundle.zip.entries.has(ONNX) ? await verifiedEntry(path, bundle, ONNX) : undefined;
    return { state, weights: weights.tensors, onnx };
  } finally {
    bundle.zip.close();
  }
}

/** Loads a bundle into a LibTorch model: `readBundle`, then the weights into the network. */
export async function loadModel(path: string, expected: Partial<ModelConfig> = {}): Promise<PtychoPinnModel> {
  const { state, weights } = await readBundle(path, expected);
  const model = new PtychoPinnModel(state);
  try {
    model.loadParameters(weights);
  } catch (err) {
    throw new BundleError(path, `${WEIGHTS} cannot be loaded into the network its manifest describes: ${(err as Error).message}`, { cause: err });
  }
  return model;
}
