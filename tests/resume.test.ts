// Interruption, checkpoints and resumption: an interrupted and resumed run ends at the same bits
// as one that was never stopped (same seed, same threads); early stopping keeps the best epoch.
import test from 'ava';
import { cpuHasBf16 } from '../lib/threads.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, readManifest, saveModel } from '../lib/bundle.js';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import { AbortedError } from '../lib/errors.js';
import type { PtychoPinnModel } from '../lib/model.js';
import { type TrainConfig, train } from '../lib/training.js';

let data: Dataset;
let dir = '';
test.before(async () => {
  data = await loadDataset('fixtures/run1084_sim.npz');
  dir = await mkdtemp(join(tmpdir(), 'ptpinn-resume-'));
});
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

// 4 epochs of 4 batches: small enough to run three times in a test
const config: TrainConfig = { model: { gridsize: 1, nFiltersScale: 1 }, training: { nGroups: 32, batchSize: 8, maxEpochs: 4, seed: 5, learningRate: 3e-3 } };
const options = { threads: 2 };
const weights = (m: PtychoPinnModel) => m.parameters().map((p) => p.data);

let straight: PtychoPinnModel;
test.serial('an uninterrupted run (the reference for the others)', async (t) => {
  t.timeout(300_000);
  straight = await train(data, config, options);
  t.is(straight.history!.epochLoss.length, 4);
  t.is(straight.history!.batchLoss.length, 16);
});

test.serial('checkpoints every 2 epochs change nothing and hand over resumable states', async (t) => {
  t.timeout(300_000);
  const seen: number[] = [];
  const model = await train(data, config, {
    ...options, checkpointEvery: 2,
    onCheckpoint: async (m) => {
      seen.push(m.resumeState!.state.epoch);
      await saveModel(m, join(dir, 'last.ptpinn'), { resumable: true });
    },
  });
  t.deepEqual(seen, [2]);
  t.deepEqual(weights(model), weights(straight));
  t.deepEqual(model.history!.batchLoss, straight.history!.batchLoss);
  // resuming from the epoch-2 checkpoint reaches the same weights too
  const checkpoint = await loadModel(join(dir, 'last.ptpinn'));
  t.is(checkpoint.resumeState!.state.epoch, 2);
  const resumed = await train(data, {}, { ...options, resume: checkpoint });
  t.deepEqual(weights(resumed), weights(straight));
  t.deepEqual(resumed.history!.epochLoss, straight.history!.epochLoss);
});

test.serial('interrupted mid-epoch, saved, loaded and resumed: bit-identical to the uninterrupted run', async (t) => {
  t.timeout(300_000);
  const controller = new AbortController();
  let reports = 0;
  // abort after the 6th report (batch 2 of epoch 2): reports cross threads, so the loop may be a
  // batch or two further when it sees the abort, but still inside the run
  const stopped = await train(data, config, { ...options, signal: controller.signal, onProgress: () => { if (++reports === 6) controller.abort(); } });
  t.is(stopped.history!.stop, 'cancelled');
  const { epoch, batch } = stopped.resumeState!.state;
  t.true(epoch * 4 + batch >= 6 && epoch * 4 + batch < 16, `stopped at epoch ${epoch}, batch ${batch}`);
  t.is(stopped.history!.batchLoss.length, epoch * 4 + batch);
  const path = join(dir, 'interrupted.ptpinn');
  await saveModel(stopped, path, { resumable: true });
  const manifest = await readManifest(path);
  t.truthy(manifest.entries['optimizer.safetensors']);
  t.like(manifest.resume, { epoch, batch });

  const resumed = await train(data, {}, { ...options, resume: await loadModel(path) });
  t.is(resumed.history!.stop, 'completed');
  t.deepEqual(weights(resumed), weights(straight));
  t.deepEqual(resumed.history!.batchLoss, straight.history!.batchLoss);
  t.deepEqual(resumed.history!.epochLoss, straight.history!.epochLoss);
});

test.serial('a resumed run refuses another configuration or other data, and a finished model', async (t) => {
  t.timeout(300_000);
  const path = join(dir, 'interrupted.ptpinn');
  await t.throwsAsync(train(data, { training: { batchSize: 4 } }, { ...options, resume: await loadModel(path) }),
    { message: /training\.batchSize is 4, but the run being resumed used 8/ });
  await t.throwsAsync(train(data, { training: { precision: 'bf16' } }, { ...options, resume: await loadModel(path) }),
    { message: /training\.precision is "bf16", but the run being resumed used "fp32"/ });
  const other: Dataset = { ...data, diffraction: { ...data.diffraction, data: data.diffraction.data.map((v) => v * 2) } };
  await t.throwsAsync(train(other, {}, { ...options, resume: await loadModel(path) }), { message: /not the data the resumed run was trained on/ });
  await saveModel(straight, join(dir, 'finished.ptpinn'));
  await t.throwsAsync(train(data, {}, { ...options, resume: await loadModel(join(dir, 'finished.ptpinn')) }), { message: /holds no training state to resume from/ });
});

// The bundle records the precision and schedule that ran, never `auto`; `auto` given again on
// resuming is what it picks on this CPU and at this N, so it resumes a run it trained, and another
// precision or schedule is refused.
test.serial('a run trained at precision and schedule auto resumes with auto, and refuses others', async (t) => {
  t.timeout(300_000);
  const chosen = cpuHasBf16() ? 'bf16' : 'fp32';
  const auto = { ...config, training: { ...config.training, precision: 'auto' as const } };
  const path = join(dir, 'auto.ptpinn');
  await train(data, auto, { ...options, checkpointEvery: 2, onCheckpoint: async (m) => { await saveModel(m, path, { resumable: true }); } });
  const checkpoint = await loadModel(path);
  t.is(checkpoint.training!.precision, chosen);
  t.is(checkpoint.training!.scheduler, 'none');
  const resumed = await train(data, { training: { precision: 'auto', scheduler: 'auto' } }, { ...options, resume: checkpoint });
  t.is(resumed.history!.epochLoss.length, 4);
  t.is(resumed.training!.precision, chosen);
  const other = chosen === 'bf16' ? 'fp32' : 'bf16';
  await t.throwsAsync(train(data, { training: { precision: other } }, { ...options, resume: await loadModel(path) }),
    { message: new RegExp(`training\\.precision is "${other}", but the run being resumed used "${chosen}"`) });
  await t.throwsAsync(train(data, { training: { scheduler: 'cosine' } }, { ...options, resume: await loadModel(path) }),
    { message: /training\.scheduler is "cosine", but the run being resumed used "none"/ });
});

test.serial('early stopping returns the best epoch\'s weights, not the last', async (t) => {
  t.timeout(300_000);
  // a rate high enough for the loss to bounce, and patience 1: training stops after the first worse epoch
  const bouncy: TrainConfig = { model: { gridsize: 1, nFiltersScale: 1 }, training: { nGroups: 32, batchSize: 8, maxEpochs: 12, seed: 5, learningRate: 0.01, earlyStopPatience: 1 } };
  const stopped = await train(data, bouncy, options);
  t.is(stopped.history!.stop, 'early_stop');
  const best = stopped.resumeState!.state.bestEpoch;
  const losses = stopped.history!.epochLoss;
  t.log(`epoch losses ${losses.map((l) => l.toFixed(0)).join(', ')}; best epoch ${best}`);
  t.is(losses.length, best + 1);
  t.is(Math.min(...losses), losses[best - 1]);
  // the same run stopped at the best epoch has exactly these weights
  const upToBest = await train(data, { ...bouncy, training: { ...bouncy.training, maxEpochs: best } }, options);
  t.deepEqual(weights(stopped), weights(upToBest));
});

test('an AbortSignal aborted before train() rejects with a PtychoPinnError and trains nothing', async (t) => {
  const controller = new AbortController();
  controller.abort();
  const error = await t.throwsAsync(train(data, config, { ...options, signal: controller.signal }), { instanceOf: AbortedError });
  t.is(error!.code, 'ERR_PTYCHOPINN_ABORTED');
});

test('NaN diffraction passed through the API is refused before training', async (t) => {
  const bad = Float32Array.from(data.diffraction.data);
  bad[1234] = NaN;
  await t.throwsAsync(train({ ...data, diffraction: { ...data.diffraction, data: bad } }, config, options),
    { code: 'ERR_PTYCHOPINN_DATASET', message: /diffraction: expected finite, non-negative amplitudes, found NaN in pattern 0/ });
});

test.serial('a refined probe and the cosine schedule resume exactly too', async (t) => {
  t.timeout(300_000);
  const refining: TrainConfig = { ...config, training: { ...config.training, probeTrainable: true, scheduler: 'cosine' } };
  const whole = await train(data, refining, options);
  let saved = '';
  const first = await train(data, refining, {
    ...options, checkpointEvery: 2,
    onCheckpoint: async (m) => {
      if (saved) return;
      saved = join(dir, 'probe-checkpoint.ptpinn');
      await saveModel(m, saved, { resumable: true });
    },
  });
  t.deepEqual(first.probe.data, whole.probe.data);
  const resumed = await train(data, {}, { ...options, resume: await loadModel(saved) });
  t.deepEqual(resumed.probe.data, whole.probe.data);
  t.deepEqual(weights(resumed), weights(whole));
  t.deepEqual(resumed.history!.learningRate, whole.history!.learningRate);
  // the rate of each epoch's last batch (4 batches an epoch, 16 in all): warm-up of
  // max(1, min(4, 16 / 10)) = 1 batch, then 0.05 + 0.95 (1 + cos(pi (step - 1) / 14)) / 2 of 3e-3
  const expected = [3, 7, 11, 15].map((step) => 3e-3 * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * (step - 1)) / 14))));
  for (const [i, rate] of whole.history!.learningRate.entries()) t.true(Math.abs(rate - expected[i]) < 1e-12, `epoch ${i + 1}: ${rate}, expected ${expected[i]}`);
});
