import test from 'ava';
import { resolve } from 'node:path';
import { TrackingError, mlflowRoot } from '../lib/tracking.js';

test('the MLflow store is <output_dir>/mlruns unless MLFLOW_TRACKING_URI names a folder', (t) => {
  t.is(mlflowRoot('out', {}), resolve('out', 'mlruns'));
  t.is(mlflowRoot('out', { MLFLOW_TRACKING_URI: 'file:///tmp/store' }), '/tmp/store');
  t.is(mlflowRoot('out', { MLFLOW_TRACKING_URI: 'relative/store' }), resolve('relative/store'));
});

test('tracking servers and other schemes are refused, saying what to do', (t) => {
  t.throws(() => mlflowRoot('out', { MLFLOW_TRACKING_URI: 'https://mlflow.example/' }), { instanceOf: TrackingError, message: /tracking servers are not supported; use a file: URI .*--logger csv or --disable_mlflow/ });
  t.throws(() => mlflowRoot('out', { MLFLOW_TRACKING_URI: 'databricks' }), { instanceOf: TrackingError });
  t.throws(() => mlflowRoot('out', { MLFLOW_TRACKING_URI: 'postgresql://db/mlflow' }), { message: /only file: URIs are supported/ });
});
