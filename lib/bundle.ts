// Model bundles (SPEC section 8): one .ptpinn zip of manifest.json, weights.safetensors and
// probe.npy. The manifest holds the whole configuration, the intensity scale, the training history
// and a SHA-256 of every other entry; loading checks all of it before building a model.
import { createHash } from 'node:crypto';
import {
  type ModelConfig, type TrainingConfig, ConfigError, resolveModelConfig, resolveTrainingConfig,
} from './config.js';
import { type ModelState, PtychoPinnModel, type TrainingHistory } from './model.js';
import type { ComplexArray } from './ndarray.js';
import { decodeNpy, encodeNpyParts } from './npy.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { version } from './version.js';
import { writeZip, ZipArchive } from './zip.js';

export const BUNDLE_FORMAT = 'ptychopinn-model';
export const BUNDLE_VERSION = 1;
const MANIFEST = 'manifest.json';
const WEIGHTS = 'weights.safetensors';
const PROBE = 'probe.npy';

export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  package: { name: string; version: string };
  libtorch: string;
  created: string;
  config: { model: ModelConfig; training?: TrainingConfig };
  intensityScale: number;
  seed: number;
  parameterCount: number;
  history?: TrainingHistory;
  /** SHA-256 and size of every other entry. */
  entries: Record<string, { sha256: string; size: number }>;
}

export class BundleError extends Error {
  override name = 'BundleError';
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
  }
}

function sha256(parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
}

/** Writes the model to `path` (a temporary file renamed when complete). */
export async function saveModel(model: PtychoPinnModel, path: string): Promise<Manifest> {
  const parameters = model.parameters();
  const weights = encodeSafetensors(parameters, { format: 'pt', producer: `ptychopinn ${version}` });
  const probe = encodeNpyParts(model.probe, `${path}: probe`);
  const entry = (parts: Uint8Array[]) => ({ sha256: sha256(parts), size: parts.reduce((n, p) => n + p.length, 0) });
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
    entries: { [WEIGHTS]: entry(weights), [PROBE]: entry(probe) },
  };
  await writeZip(path, [
    { name: MANIFEST, parts: [Buffer.from(JSON.stringify(manifest, null, 2))], compress: true },
    // float weights barely deflate: storing keeps loading a plain copy
    { name: WEIGHTS, parts: weights, compress: false },
    { name: PROBE, parts: probe, compress: false },
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
    if ((err as NodeJS.ErrnoException).code) throw err;
    throw new BundleError(path, `not a model bundle: ${(err as Error).message.replace(`${path} `, '')}`);
  }
  try {
    const entry = zip.entries.get(MANIFEST);
    if (!entry) {
      throw new BundleError(path, `not a ptychopinn model bundle: no ${MANIFEST} (the zip holds ${[...zip.entries.keys()].join(', ') || 'nothing'})`);
    }
    let manifest: Manifest;
    try {
      manifest = JSON.parse(Buffer.from(await zip.read(entry, `${path}: ${MANIFEST}`)).toString('utf8')) as Manifest;
    } catch (err) {
      throw new BundleError(path, `${MANIFEST} is damaged: ${(err as Error).message}`);
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
    return { manifest, zip };
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

/** The manifest alone, checked for format and version (no LibTorch needed): for `inspect`. */
export async function readManifest(path: string): Promise<Manifest> {
  const bundle = await openBundle(path);
  bundle.zip.close();
  return bundle.manifest;
}

/**
 * Loads a bundle: verifies every entry against the manifest, restores the configuration and the
 * weights. `expected` holds model fields the caller set explicitly: each must equal the bundle's
 * (the bundle's model fields always win; a different explicit value is an error).
 */
export async function loadModel(path: string, expected: Partial<ModelConfig> = {}): Promise<PtychoPinnModel> {
  const bundle = await openBundle(path);
  try {
    const { manifest } = bundle;
    let config: ModelConfig;
    let training: TrainingConfig | undefined;
    try {
      config = resolveModelConfig(manifest.config?.model);
      training = manifest.config?.training && resolveTrainingConfig(manifest.config.training);
    } catch (err) {
      throw new BundleError(path, `${MANIFEST} holds an invalid configuration: ${(err as Error).message}`);
    }
    for (const [key, value] of Object.entries(expected) as [keyof ModelConfig, unknown][]) {
      if (value !== undefined && value !== config[key]) {
        throw new ConfigError(key, `is ${JSON.stringify(value)}, but the model in ${path} was trained with ${JSON.stringify(config[key])}; model settings come from the bundle: drop the flag or use another model`);
      }
    }
    if (!(manifest.intensityScale > 0) || !Number.isInteger(manifest.seed)) {
      throw new BundleError(path, `${MANIFEST} needs a positive intensityScale and an integer seed, found ${manifest.intensityScale} and ${manifest.seed}`);
    }
    const weights = decodeSafetensors(await verifiedEntry(path, bundle, WEIGHTS), `${path}: ${WEIGHTS}`);
    const probeArray = decodeNpy(await verifiedEntry(path, bundle, PROBE), `${path}: ${PROBE}`);
    if (probeArray.dtype !== 'complex64' || probeArray.shape.join() !== `${config.N},${config.N}`) {
      throw new BundleError(path, `${PROBE}: expected complex64 (${config.N}, ${config.N}), found ${probeArray.dtype} (${probeArray.shape.join(', ')})`);
    }
    const state: ModelState = {
      config, training, probe: probeArray as ComplexArray, intensityScale: manifest.intensityScale,
      seed: manifest.seed, history: manifest.history,
    };
    const model = new PtychoPinnModel(state);
    try {
      model.loadParameters(weights.tensors);
    } catch (err) {
      throw new BundleError(path, `${WEIGHTS} does not fit the network its manifest describes: ${(err as Error).message}`);
    }
    return model;
  } finally {
    bundle.zip.close();
  }
}
