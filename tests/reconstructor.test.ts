import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import { Reconstructor } from '../lib/reconstructor.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');
let dir = '';
let data: Dataset;
test.before(async (t) => {
  t.timeout(300_000);
  dir = await mkdtemp(join(tmpdir(), 'ptpinn-reconstructor-'));
  data = await loadDataset(FIXTURE);
});
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

test.serial('ingest, train, save, open in another reconstructor, reconstruct identically, clear', async (t) => {
  t.timeout(300_000);
  const r = new Reconstructor({ model: { gridsize: 2 }, training: { nGroups: 24, maxEpochs: 1, batchSize: 8 }, threads: 2 });
  await t.throwsAsync(r.train(), { message: /no training data: call ingestTrainingData first/ });
  await r.ingestTrainingData(FIXTURE);
  await r.ingestTrainingData(data);
  t.is(r.trainingPatterns, 1024);
  const history = await r.train();
  t.is(history.epochLoss.length, 1);
  t.is(r.model?.config.gridsize, 2);
  const path = join(dir, 'model.ptpinn');
  await r.saveModel(path);

  const other = new Reconstructor({ threads: 2 });
  await t.throwsAsync(other.reconstruct(data), { message: /no model: train or open one first/ });
  await other.openModel(path);
  const [a, b] = [await r.reconstruct(FIXTURE, { nImages: 10 }), await other.reconstruct(data, { nImages: 10 })];
  t.deepEqual(Buffer.from(b.object.data.buffer), Buffer.from(a.object.data.buffer));

  r.clearTrainingData();
  t.is(r.trainingPatterns, 0);
  await t.throwsAsync(r.train(), { message: /no training data/ });
});

test('datasets with another probe or size cannot be trained together', async (t) => {
  t.timeout(300_000);
  const r = new Reconstructor();
  await r.ingestTrainingData(data);
  const otherProbe = { ...data, source: 'other.npz', probe: { ...data.probe, data: data.probe.data.map((v) => 2 * v) } };
  await t.throwsAsync(r.ingestTrainingData(otherProbe), { message: /other\.npz: its probe differs from .*run1084_sim\.npz's/ });
});

test('the iterative baseline runs through the reconstructor without a model, with progress and cancellation', async (t) => {
  t.timeout(300_000);
  const r = new Reconstructor({ threads: 2 });
  const seen: number[] = [];
  const stop = new AbortController();
  const out = await r.reconstructIterative(FIXTURE, {
    method: 'rpie', iterations: 50, nImages: 128, signal: stop.signal,
    onProgress: (p) => { seen.push(p.iteration); if (p.iteration === 4) stop.abort(); },
  });
  t.is(out.method, 'rpie');
  t.is(out.stop, 'cancelled');
  // the abort lands while the next iteration runs: it stops there, long before the 50th
  t.deepEqual(seen.slice(0, 4), [1, 2, 3, 4]);
  t.true(out.error.length >= 4 && out.error.length < 50, `${out.error.length}`);
  t.is(out.patterns.length, 128);
  t.deepEqual(out.probe.shape, [64, 64]);
});
