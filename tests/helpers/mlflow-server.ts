// A local stand-in for an MLflow tracking server: the REST endpoints of MLflow's documentation
// (https://mlflow.org/docs/latest/rest-api.html) that the package calls, answering as MLflow does
// (JSON bodies, error_code and message on errors, 404 RESOURCE_DOES_NOT_EXIST for an unknown
// experiment name) and checking each request's fields as the API defines them. It is not MLflow:
// it proves the requests are the documented ones, not that a given MLflow version accepts them.
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRun {
  info: { run_id: string; experiment_id: string; run_name: string; status: string; start_time: number; end_time?: number; artifact_uri: string };
  params: Map<string, string>;
  metrics: { key: string; value: number; timestamp: number; step: number }[];
  tags: Map<string, string>;
}

export interface FakeMlflow {
  url: string;
  experiments: Map<string, string>; // name -> id
  runs: Map<string, RecordedRun>;
  artifacts: Map<string, Buffer>; // path under the artifact root -> bytes
  /** Every request's method, path and authorization header, in order. */
  requests: { method: string; path: string; authorization?: string }[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface FakeMlflowOptions {
  /** Artifact URI of new runs, {exp} and {run} replaced (default: proxied, mlflow-artifacts:/{exp}/{run}/artifacts). */
  artifactUri?: string;
}

export async function startFakeMlflow(options: FakeMlflowOptions = {}): Promise<FakeMlflow> {
  const experiments = new Map([['Default', '0']]);
  const runs = new Map<string, RecordedRun>();
  const artifacts = new Map<string, Buffer>();
  const requests: FakeMlflow['requests'] = [];
  let nextRun = 1;

  const send = (res: ServerResponse, status: number, value: object) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  const invalid = (res: ServerResponse, message: string) => send(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://localhost');
    requests.push({ method: req.method!, path: url.pathname, authorization: req.headers.authorization });
    const raw = await body(req);
    const artifact = /^\/api\/2\.0\/mlflow-artifacts\/artifacts\/(.+)$/.exec(url.pathname);
    if (artifact && req.method === 'PUT') {
      artifacts.set(decodeURIComponent(artifact[1]), raw);
      return send(res, 200, {});
    }
    const json = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    const run = json.run_id ? runs.get(json.run_id) : undefined;
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /api/2.0/mlflow/experiments/get-by-name': {
        const name = url.searchParams.get('experiment_name') ?? '';
        const id = experiments.get(name);
        if (!id) return send(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Could not find experiment with name '${name}'` });
        return send(res, 200, { experiment: { experiment_id: id, name, lifecycle_stage: 'active' } });
      }
      case 'POST /api/2.0/mlflow/experiments/create': {
        if (typeof json.name !== 'string' || !json.name) return invalid(res, 'Missing value for required parameter \'name\'');
        const id = String(experiments.size);
        experiments.set(json.name, id);
        return send(res, 200, { experiment_id: id });
      }
      case 'POST /api/2.0/mlflow/runs/create': {
        if (typeof json.experiment_id !== 'string' || ![...experiments.values()].includes(json.experiment_id)) return invalid(res, 'experiment_id');
        if (!Number.isInteger(json.start_time)) return invalid(res, 'start_time must be an integer (ms)');
        const id = `run${nextRun++}`;
        const info = { run_id: id, experiment_id: json.experiment_id, run_name: json.run_name, status: 'RUNNING', start_time: json.start_time,
          artifact_uri: (options.artifactUri ?? 'mlflow-artifacts:/{exp}/{run}/artifacts').replace('{exp}', json.experiment_id).replace('{run}', id) };
        runs.set(id, { info, params: new Map(), metrics: [], tags: new Map((json.tags ?? []).map((t: { key: string; value: string }) => [t.key, t.value])) });
        return send(res, 200, { run: { info, data: {} } });
      }
      case 'POST /api/2.0/mlflow/runs/log-batch': {
        if (!run) return send(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run '${json.run_id}' not found` });
        if ((json.params ?? []).length > 100) return invalid(res, 'at most 100 params a batch');
        for (const p of json.params ?? []) {
          if (typeof p.key !== 'string' || typeof p.value !== 'string') return invalid(res, 'params are {key, value} strings');
          if (run.params.has(p.key) && run.params.get(p.key) !== p.value) return invalid(res, `param ${p.key} changed`);
          run.params.set(p.key, p.value);
        }
        for (const m of json.metrics ?? []) {
          // protobuf JSON: a double, or 'NaN' / 'Infinity' / '-Infinity'
          const value = typeof m.value === 'number' || ['NaN', 'Infinity', '-Infinity'].includes(m.value);
          if (typeof m.key !== 'string' || !value || !Number.isInteger(m.timestamp) || !Number.isInteger(m.step)) {
            return invalid(res, 'metrics are {key, value, timestamp, step}');
          }
          run.metrics.push(m);
        }
        return send(res, 200, {});
      }
      case 'POST /api/2.0/mlflow/runs/update': {
        if (!run) return send(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run '${json.run_id}' not found` });
        if (!['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'].includes(json.status)) return invalid(res, 'status');
        run.info.status = json.status;
        run.info.end_time = json.end_time;
        return send(res, 200, { run_info: run.info });
      }
      default:
        return send(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: `${req.method} ${url.pathname}` });
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, experiments, runs, artifacts, requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
