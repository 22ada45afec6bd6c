import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TrackingError, mlflowTarget, paramText } from '../lib/tracking.js';
import { startMlflowServerRun } from '../lib/tracking-server.js';
import { runCli } from './helpers/cli.js';
import { startFakeMlflow } from './helpers/mlflow-server.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');
const work = mkdtempSync(join(tmpdir(), 'ptpinn-tracking-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('the MLflow store is <output_dir>/mlruns unless MLFLOW_TRACKING_URI names a folder or a server', (t) => {
  t.deepEqual(mlflowTarget('out', {}), { kind: 'file', root: resolve('out', 'mlruns') });
  t.deepEqual(mlflowTarget('out', { MLFLOW_TRACKING_URI: 'file:///tmp/store' }), { kind: 'file', root: '/tmp/store' });
  t.deepEqual(mlflowTarget('out', { MLFLOW_TRACKING_URI: 'relative/store' }), { kind: 'file', root: resolve('relative/store') });
  t.deepEqual(mlflowTarget('out', { MLFLOW_TRACKING_URI: 'https://mlflow.example/' }), { kind: 'server', url: 'https://mlflow.example' });
});

test('Databricks and database URIs are refused, saying what to do', (t) => {
  t.throws(() => mlflowTarget('out', { MLFLOW_TRACKING_URI: 'databricks' }), { instanceOf: TrackingError, message: /Databricks tracking is not supported; use an http\(s\):\/\/ MLflow server/ });
  t.throws(() => mlflowTarget('out', { MLFLOW_TRACKING_URI: 'postgresql://db/mlflow' }), { message: /only http\(s\):\/\/ servers and file: URIs are supported/ });
});

test('parameters are written as MLflow\'s Python client writes them', (t) => {
  t.is(paramText(true), 'True');
  t.is(paramText(false), 'False');
  t.is(paramText(0.001), '0.001');
  t.is(paramText('silu'), 'silu');
});

test('a run on a tracking server: the documented REST calls, in order, with the token', async (t) => {
  const server = await startFakeMlflow();
  try {
    const env = { MLFLOW_TRACKING_TOKEN: 'secret', MLFLOW_EXPERIMENT_NAME: 'ptycho' };
    const run = await startMlflowServerRun(server.url, 'a run', { env });
    await run.logParams({ gridsize: 2, probe_big: true, object_big: false, skipped: undefined });
    await run.logMetric('train_loss', 1.5, 1);
    await run.logMetric('train_loss', 1.25, 2);
    const file = join(work, 'model.ptpinn');
    await writeFile(file, 'bundle bytes');
    await run.logArtifact(file);
    await run.end('FINISHED');
    t.deepEqual(server.requests.map((r) => `${r.method} ${r.path}`), [
      'GET /api/2.0/mlflow/experiments/get-by-name', 'POST /api/2.0/mlflow/experiments/create', 'POST /api/2.0/mlflow/runs/create',
      'POST /api/2.0/mlflow/runs/log-batch', 'POST /api/2.0/mlflow/runs/log-batch', 'POST /api/2.0/mlflow/runs/log-batch',
      'PUT /api/2.0/mlflow-artifacts/artifacts/1/run1/artifacts/model.ptpinn', 'POST /api/2.0/mlflow/runs/update',
    ]);
    t.true(server.requests.every((r) => r.authorization === 'Bearer secret'));
    const recorded = server.runs.get('run1')!;
    t.is(recorded.info.experiment_id, server.experiments.get('ptycho')!);
    t.deepEqual(Object.fromEntries(recorded.params), { gridsize: '2', probe_big: 'True', object_big: 'False' });
    t.deepEqual(recorded.metrics.map((m) => [m.key, m.value, m.step]), [['train_loss', 1.5, 1], ['train_loss', 1.25, 2]]);
    t.is(recorded.info.status, 'FINISHED');
    t.is(server.artifacts.get('1/run1/artifacts/model.ptpinn')?.toString(), 'bundle bytes');
    t.regex(run.location, /#\/experiments\/1\/runs\/run1$/);
  } finally {
    await server.close();
  }
});

test('a server error is a TrackingError with MLflow\'s error code and message', async (t) => {
  const server = await startFakeMlflow();
  try {
    const error = await t.throwsAsync(startMlflowServerRun(server.url, 'x', { env: { MLFLOW_EXPERIMENT_ID: '42' } }), { instanceOf: TrackingError });
    t.regex(error!.message, /runs\/create answered 400: INVALID_PARAMETER_VALUE/);
    const unreachable = await t.throwsAsync(startMlflowServerRun('http://127.0.0.1:1', 'x', { env: {} }), { instanceOf: TrackingError });
    t.regex(unreachable!.message, /MLflow server http:\/\/127\.0\.0\.1:1: experiments\/get-by-name failed/);
  } finally {
    await server.close();
  }
});

test('train logs to a tracking server named by MLFLOW_TRACKING_URI: params, losses, the bundle, the end', async (t) => {
  t.timeout(300_000);
  const server = await startFakeMlflow();
  try {
    const out = join(work, 'server-run');
    const r = await runCli(['train', '--train_data_file', FIXTURE, '--output_dir', out, '--max_epochs', '2', '--n_images', '8',
      '--batch_size', '8', '--gridsize', '1', '--threads', '2'], { env: { MLFLOW_TRACKING_URI: server.url } });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`tracking: ${server.url}/#/experiments/0/runs/run1`));
    const run = server.runs.get('run1')!;
    t.like(Object.fromEntries(run.params), { max_epochs: '2', n_images: '8', batch_size: '8', gridsize: '1', probe_big: 'True', learning_rate: '0.001' });
    t.deepEqual(run.metrics.filter((m) => m.key === 'train_loss').map((m) => m.step), [1, 2]);
    t.is(run.info.status, 'FINISHED');
    t.deepEqual(server.artifacts.get('0/run1/artifacts/model.ptpinn'), await readFile(join(out, 'model.ptpinn')));
  } finally {
    await server.close();
  }
});

test('a server whose artifact store is not proxied: the upload is a warning, the run still ends FINISHED', async (t) => {
  t.timeout(300_000);
  const server = await startFakeMlflow({ artifactUri: 's3://bucket/{exp}/{run}/artifacts' });
  try {
    const out = join(work, 'not-proxied');
    const r = await runCli(['train', '--train_data_file', FIXTURE, '--output_dir', out, '--max_epochs', '1', '--n_images', '8',
      '--batch_size', '8', '--gridsize', '1', '--threads', '2', '--json'], { env: { MLFLOW_TRACKING_URI: server.url } });
    t.is(r.code, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; message?: string });
    t.true(events.some((e) => e.event === 'warning' && /cannot upload the model: .*s3:\/\/bucket.*not served by the server/.test(e.message ?? '')), r.stdout);
    t.is(events.at(-1)!.event, 'result', r.stdout);
    t.is(server.runs.get('run1')!.info.status, 'FINISHED');
    t.is(server.artifacts.size, 0);
  } finally {
    await server.close();
  }
});
