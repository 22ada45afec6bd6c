// A run on an MLflow tracking server through its documented REST API (2.0): experiments/get-by-name
// and experiments/create, runs/create, runs/log-batch, runs/update, and the proxied artifact
// upload (PUT /api/2.0/mlflow-artifacts/artifacts/...) that `mlflow server` serves by default.
// Credentials as MLflow's clients read them: MLFLOW_TRACKING_TOKEN (bearer) or
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic).
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import { type RunStatus, type Tracker, TrackingError, paramText } from './tracking.js';

// MLflow's limits: params in one log-batch call, characters of a param value
const MAX_PARAMS = 100;
const MAX_VALUE = 6000;
// a server that does not answer in this time is treated as down (uploads get ten times as long)
const TIMEOUT_MS = 30_000;

interface RunInfo { run_id: string; experiment_id: string; artifact_uri?: string }

/** How a run is logged to an MLflow tracking server: the environment that names the experiment and the credentials. */
export interface ServerRunOptions {
  /** MLFLOW_EXPERIMENT_ID, else MLFLOW_EXPERIMENT_NAME (created when missing), else Default. */
  env?: NodeJS.ProcessEnv;
}

function headers(env: NodeJS.ProcessEnv): Record<string, string> {
  if (env.MLFLOW_TRACKING_TOKEN) return { authorization: `Bearer ${env.MLFLOW_TRACKING_TOKEN}` };
  if (env.MLFLOW_TRACKING_USERNAME) {
    const basic = Buffer.from(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD ?? ''}`).toString('base64');
    return { authorization: `Basic ${basic}` };
  }
  return {};
}

/** Starts a run on the tracking server at `url` (MLFLOW_TRACKING_URI). */
export async function startMlflowServerRun(url: string, runName: string, options: ServerRunOptions = {}): Promise<Tracker> {
  const env = options.env ?? process.env;
  const auth = headers(env);

  async function call<T>(method: 'GET' | 'POST', endpoint: string, body?: object, query?: Record<string, string>): Promise<T> {
    const target = new URL(`${url}/api/2.0/mlflow/${endpoint}`);
    for (const [k, v] of Object.entries(query ?? {})) target.searchParams.set(k, v);
    let response: Response;
    try {
      response = await fetch(target, {
        method, headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw new TrackingError(`MLflow server ${url}: ${endpoint} failed: ${(error as Error).message}`, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) {
      let detail = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { error_code?: string; message?: string };
        if (parsed.error_code || parsed.message) detail = `${parsed.error_code ?? ''} ${parsed.message ?? ''}`.trim();
      } catch { /* not JSON: the text itself */ }
      throw Object.assign(new TrackingError(`MLflow server ${url}: ${endpoint} answered ${response.status}: ${detail}`), { status: response.status });
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  async function experimentId(): Promise<string> {
    if (env.MLFLOW_EXPERIMENT_ID) return env.MLFLOW_EXPERIMENT_ID;
    const name = env.MLFLOW_EXPERIMENT_NAME ?? 'Default';
    try {
      const found = await call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', undefined, { experiment_name: name });
      return found.experiment.experiment_id;
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
    }
    const created = await call<{ experiment_id: string }>('POST', 'experiments/create', { name });
    return created.experiment_id;
  }

  const user = (() => { try { return userInfo().username; } catch { return 'unknown'; } })();
  const { run } = await call<{ run: { info: RunInfo } }>('POST', 'runs/create', {
    experiment_id: await experimentId(), run_name: runName, start_time: Date.now(),
    tags: [
      { key: 'mlflow.runName', value: runName }, { key: 'mlflow.user', value: user },
      { key: 'mlflow.source.name', value: 'ptychopinn' }, { key: 'mlflow.source.type', value: 'LOCAL' },
    ],
  });
  const runId = run.info.run_id;
  const artifactUri = run.info.artifact_uri ?? '';

  return {
    location: `${url}/#/experiments/${run.info.experiment_id}/runs/${runId}`,
    async logParams(params) {
      const all = Object.entries(params).filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
        .map(([key, value]) => ({ key, value: paramText(value).slice(0, MAX_VALUE) }));
      for (let i = 0; i < all.length; i += MAX_PARAMS) await call('POST', 'runs/log-batch', { run_id: runId, params: all.slice(i, i + MAX_PARAMS) });
    },
    async logMetric(key, value, step) {
      // protobuf's JSON spells non-finite doubles as strings; JSON.stringify would send null, which MLflow refuses
      const number = Number.isFinite(value) ? value : Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
      await call('POST', 'runs/log-batch', { run_id: runId, metrics: [{ key, value: number, timestamp: Date.now(), step }] });
    },
    async logArtifact(path) {
      // only a server that proxies its artifact store takes uploads over HTTP
      const proxied = /^mlflow-artifacts:\/*(.*)$/.exec(artifactUri);
      if (!proxied) {
        throw new TrackingError(`MLflow server ${url}: the run's artifact store is ${artifactUri || 'unknown'}, not served by the server ` +
          '(start it with --serve-artifacts, the default since MLflow 2.0); the artifact stays in the output folder');
      }
      const relative = [...proxied[1].split('/').filter(Boolean), basename(path)].map(encodeURIComponent).join('/');
      const target = `${url}/api/2.0/mlflow-artifacts/artifacts/${relative}`;
      let response: Response;
      try {
        response = await fetch(target, { method: 'PUT', headers: auth, body: await readFile(path), signal: AbortSignal.timeout(10 * TIMEOUT_MS) });
      } catch (error) {
        throw new TrackingError(`MLflow server ${url}: uploading ${basename(path)} failed: ${(error as Error).message}`, { cause: error });
      }
      if (!response.ok) throw new TrackingError(`MLflow server ${url}: uploading ${basename(path)} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    },
    async end(status: RunStatus) {
      await call('POST', 'runs/update', { run_id: runId, status, end_time: Date.now() });
    },
  };
}
