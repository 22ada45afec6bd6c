// Experiment tracking: an MLflow file store run (the layout `mlflow ui --backend-store-uri`
// lists, the zero-setup default), a tracking server through MLflow's REST API
// (lib/tracking-server.ts), or a plain metrics.csv.
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeAtomically } from './atomic.js';
import { PtychoPinnError } from './errors.js';

/** How an MLflow run ended. */
export type RunStatus = 'FINISHED' | 'FAILED' | 'KILLED';
// MLflow's RunStatus enum values, as meta.yaml stores them
const STATUS = { RUNNING: 1, FINISHED: 3, FAILED: 4, KILLED: 5 } as const;

/** Where a training run logs its parameters, metrics and artifacts: an MLflow file store or server, or a CSV log. */
export interface Tracker {
  /** Logs parameters (snake_case names, as the reference). */
  logParams(params: Record<string, string | number | boolean | undefined>): Promise<void>;
  /** Logs one value of a metric at a step (the epoch). */
  logMetric(key: string, value: number, step: number): Promise<void>;
  /** Copies or uploads a file to the run's artifacts. */
  logArtifact(path: string): Promise<void>;
  /** Closes the run with its status. */
  end(status: RunStatus): Promise<void>;
  /** Where the run lives, for the user. */
  readonly location: string;
}

/** Logging to a tracking store failed: names the store and what happened. */
export class TrackingError extends PtychoPinnError {
  override name = 'TrackingError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PTYCHOPINN_TRACKING', message, { cause: options?.cause, exitCode: 2 });
  }
}

/** Where an MLflow run goes: a file store folder, or a tracking server's base URL. */
export type MlflowTarget = { kind: 'file'; root: string } | { kind: 'server'; url: string };

/**
 * `MLFLOW_TRACKING_URI`: an `http(s)://` tracking server, a `file:` URI or a plain path (a file
 * store), else the file store `<outputDir>/mlruns`. Databricks and database URIs are refused: those
 * are the Python client's, through its own plugins.
 */
export function mlflowTarget(outputDir: string, env: NodeJS.ProcessEnv = process.env): MlflowTarget {
  const uri = env.MLFLOW_TRACKING_URI;
  if (!uri) return { kind: 'file', root: resolve(outputDir, 'mlruns') };
  if (/^https?:\/\//i.test(uri)) return { kind: 'server', url: uri.replace(/\/+$/, '') };
  if (/^databricks/i.test(uri)) {
    throw new TrackingError(`MLFLOW_TRACKING_URI=${uri}: Databricks tracking is not supported; ` +
      'use an http(s):// MLflow server or a file: URI (or unset it to write <output_dir>/mlruns), or pass --logger csv or --disable_mlflow');
  }
  if (/^file:/i.test(uri)) return { kind: 'file', root: fileURLToPath(uri) };
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) throw new TrackingError(`MLFLOW_TRACKING_URI=${uri}: only http(s):// servers and file: URIs are supported`);
  return { kind: 'file', root: resolve(uri) };
}

/** How to open a file store, with each MLflow: 3.13 and later refuse it unless told to allow it. */
export function fileStoreHint(root: string): string {
  return `open it with \`mlflow ui --backend-store-uri ${root}\` (MLflow 3.13 and later: ` +
    `\`MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ${root}\`)`;
}

/**
 * Parameter values as MLflow's Python client writes them (`str(value)`): booleans True/False,
 * what is undefined left out.
 */
export function paramText(value: string | number | boolean): string {
  return typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value);
}

// meta.yaml holds flat scalars only: quote strings as YAML does for MLflow's fields
const yaml = (fields: Record<string, string | number | null>) =>
  `${Object.entries(fields).map(([k, v]) => `${k}: ${v === null ? 'null' : typeof v === 'number' ? v : `'${v.replace(/'/g, "''")}'`}`).join('\n')}\n`;

async function writeText(path: string, text: string): Promise<void> {
  await writeAtomically(path, (temp) => writeFile(temp, text, { flag: 'wx' }));
}

/** Starts a run in experiment 0 ("Default") of the file store at `root`. */
export async function startMlflowRun(root: string, runName: string): Promise<Tracker> {
  const experiment = join(root, '0');
  const now = Date.now();
  await mkdir(experiment, { recursive: true });
  // MLflow's file store keeps deleted experiments here and expects the folder
  await mkdir(join(root, '.trash'), { recursive: true });
  try {
    await readFile(join(experiment, 'meta.yaml'));
  } catch {
    await writeText(join(experiment, 'meta.yaml'), yaml({
      artifact_location: pathToFileURL(experiment).href, creation_time: now, experiment_id: '0',
      last_update_time: now, lifecycle_stage: 'active', name: 'Default',
    }));
  }
  const runId = randomBytes(16).toString('hex');
  const run = join(experiment, runId);
  const artifacts = join(run, 'artifacts');
  for (const sub of ['params', 'metrics', 'tags', 'artifacts']) await mkdir(join(run, sub), { recursive: true });
  const user = (() => { try { return userInfo().username; } catch { return 'unknown'; } })();
  const meta = (status: number, end: number | null) => ({
    artifact_uri: pathToFileURL(artifacts).href, end_time: end, entry_point_name: '', experiment_id: '0',
    lifecycle_stage: 'active', run_id: runId, run_name: runName, run_uuid: runId, source_name: '',
    source_type: 4, source_version: '', start_time: now, status, user_id: user,
  });
  const writeMeta = (status: number, end: number | null) =>
    writeText(join(run, 'meta.yaml'), `${yaml(meta(status, end))}tags: []\n`);
  await writeMeta(STATUS.RUNNING, null);
  const tags: Record<string, string> = {
    'mlflow.runName': runName, 'mlflow.user': user, 'mlflow.source.name': 'ptychopinn', 'mlflow.source.type': 'LOCAL',
  };
  for (const [k, v] of Object.entries(tags)) await writeText(join(run, 'tags', k), v);
  return {
    location: run,
    async logParams(params) {
      for (const [k, v] of Object.entries(params)) if (v !== undefined) await writeText(join(run, 'params', k), paramText(v));
    },
    async logMetric(key, value, step) {
      // MLflow's line format: timestamp value step
      await appendFile(join(run, 'metrics', key), `${Date.now()} ${value} ${step}\n`);
    },
    async logArtifact(path) {
      await copyFile(path, join(artifacts, basename(path)));
    },
    async end(status) {
      await writeMeta(STATUS[status], Date.now());
    },
  };
}

/** `--logger csv`: one row per logged step in <dir>/metrics.csv. */
export async function startCsvLog(dir: string): Promise<Tracker> {
  const path = join(dir, 'metrics.csv');
  await writeFile(path, 'step,key,value\n');
  return {
    location: path,
    async logParams(params) {
      await writeText(join(dir, 'params.json'), JSON.stringify(params, null, 2));
    },
    async logMetric(key, value, step) {
      await appendFile(path, `${step},${key},${value}\n`);
    },
    async logArtifact() {},
    async end() {},
  };
}
