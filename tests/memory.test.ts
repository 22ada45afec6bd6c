// Memory and concurrency: many reconstructions in one process keep RSS flat, dispose() frees a
// model, and concurrent jobs (queued by the core budget) give the numbers they give alone.
import test from 'ava';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import { NativeError } from '../lib/errors.js';
import { setCoreBudget } from '../lib/jobs.js';
import { PtychoPinnModel } from '../lib/model.js';
import { train } from '../lib/training.js';

// a full collection before each sample, so the slope is native memory rather than JS garbage
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let data: Dataset;
test.before(async () => { data = await loadDataset('fixtures/run1084_sim.npz'); });

const tiny = { N: 64, gridsize: 1, nFiltersScale: 1, ampActivation: 'silu', probeBig: true, objectBig: true, probeMask: false, memberNetwork: 'joint' } as const;

test.serial('1000 reconstruct calls in one process keep RSS flat', async (t) => {
  t.timeout(900_000);
  const model = new PtychoPinnModel({ config: tiny, probe: data.probe, intensityScale: 31.25, seed: 1 });
  const samples: [number, number][] = [];
  for (let i = 1; i <= 1000; i++) {
    await model.reconstruct(data, { nImages: 4, threads: 1 });
    if (i % 100 === 0) {
      gc();
      samples.push([i, process.memoryUsage().rss]);
    }
  }
  // least-squares slope after the first 200 calls (allocator warm-up)
  const points = samples.filter(([i]) => i >= 200);
  const mx = points.reduce((s, [x]) => s + x, 0) / points.length;
  const my = points.reduce((s, [, y]) => s + y, 0) / points.length;
  const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const grown = samples.at(-1)![1] - points[0][1];
  t.log(`samples (calls: MB): ${samples.map(([i, r]) => `${i}: ${(r / 2 ** 20).toFixed(0)}`).join(", ")}`);
  t.log(`RSS ${(samples[0][1] / 2 ** 20).toFixed(0)} MB after 100 calls, ${(samples.at(-1)![1] / 2 ** 20).toFixed(0)} MB after 1000; slope ${(slope / 1024).toFixed(2)} KiB per call`);
  // a leak of one 4-pattern result (4 x 64 x 64 complex64 = 128 KiB) per call would show as >= 128 KiB a call
  t.true(slope < 32 * 1024, `slope ${slope} bytes per call`);
  t.true(grown < 64 * 2 ** 20, `grew ${grown} bytes`);
  model.dispose();
});

test.serial('a disposed model refuses further work with a NativeError', async (t) => {
  const model = new PtychoPinnModel({ config: tiny, probe: data.probe, intensityScale: 31.25, seed: 1 });
  model.dispose();
  const error = await t.throwsAsync(model.reconstruct(data, { nImages: 4, threads: 1 }), { instanceOf: NativeError });
  t.regex(error!.message, /the model has been disposed/);
  t.throws(() => model.parameters(), { instanceOf: NativeError, message: /disposed/ });
});

test.serial('two trainings and an inference at once give the same numbers as each alone', async (t) => {
  t.timeout(900_000);
  const config = (seed: number) => ({ model: { gridsize: 1, nFiltersScale: 1 }, training: { nGroups: 16, batchSize: 8, maxEpochs: 1, seed } });
  const infer = new PtychoPinnModel({ config: tiny, probe: data.probe, intensityScale: 31.25, seed: 3 });
  const alone = [await train(data, config(1), { threads: 1 }), await train(data, config(2), { threads: 1 })];
  const aloneObject = (await infer.reconstruct(data, { nImages: 32, threads: 1 })).object.data;
  // a budget of one core: the three jobs queue instead of oversubscribing
  for (const budget of [1, 2]) {
    const previous = setCoreBudget(budget);
    try {
      const [a, b, r] = await Promise.all([
        train(data, config(1), { threads: 1 }), train(data, config(2), { threads: 1 }),
        infer.reconstruct(data, { nImages: 32, threads: 1 }),
      ]);
      t.deepEqual(a.parameters(), alone[0].parameters(), `budget ${budget}`);
      t.deepEqual(b.parameters(), alone[1].parameters(), `budget ${budget}`);
      t.deepEqual(r.object.data, aloneObject, `budget ${budget}`);
    } finally {
      setCoreBudget(previous);
    }
  }
});
