import test from 'ava';
import { spawnSync } from 'node:child_process';
import { compareObjects } from '../lib/metrics.js';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import { PtychoPinnModel } from '../lib/model.js';
import { ConfigError, resolveScheduler } from '../lib/config.js';
import { TrainingError, type TrainingProgress, train } from '../lib/training.js';
import { phaseCorrelation } from './helpers/quality.js';
import { pinholeProbe } from '../lib/probe.js';
import { spiralScan } from '../lib/scan.js';
import { simulate } from '../lib/simulation.js';

// AVA runs a file's tests concurrently; these share two cores, so they run one at a time.
const serial = test.serial;
let data: Dataset;
test.before(async () => { data = await loadDataset('fixtures/run1084_sim.npz'); });

const interior = { top: 80, left: 80, bottom: 150, right: 150 };
const allFinite = (model: PtychoPinnModel) => model.parameters().every((p) => p.data.every(Number.isFinite));

serial('training on the fixture lowers the loss and reconstructs the ground-truth phase', async (t) => {
  t.timeout(600_000);
  const untrained = new PtychoPinnModel({ config: { N: 64, gridsize: 1, nFiltersScale: 2, ampActivation: 'silu', probeBig: true, objectBig: true, probeMask: false, memberNetwork: 'joint' }, probe: data.probe, intensityScale: 31.25, seed: 42 });
  const before = await untrained.reconstruct(data, { threads: 2 });
  const chance = phaseCorrelation(before.object, before.origin, data.objectGuess!, interior, 4);
  const progress: TrainingProgress[] = [];
  // the demo's short schedule: three epochs at batch 4 and 1e-3, in fp32 as the demo runs it: at
  // this budget the outcome still depends on the seed (README: the demo), and the threshold below
  // is this path's
  const model = await train(data, { model: { gridsize: 1 }, training: { nGroups: 512, maxEpochs: 3, batchSize: 4, learningRate: 1e-3, precision: 'fp32' } },
    { threads: 2, onProgress: (p) => progress.push(p) });
  const history = model.history!;
  // every report arrived before train() resolved
  t.is(progress.length, 3 * 128);
  // the loss's floor: the saturated model I = X^2 (normalised), which no model beats
  let floor = 0;
  for (const x of data.diffraction.data) {
    const y = (x / model.intensityScale) ** 2;
    floor += y > 0 ? y - y * Math.log(y) : 0;
  }
  floor /= 512;
  const excess = (loss: number) => loss - floor;
  const first = history.batchLoss[0];
  const last = history.epochLoss[2];
  const r = await model.reconstruct(data, { threads: 2 });
  // at gridsize 1 nothing pins a patch's position to a pixel: allow a small shift
  const quality = phaseCorrelation(r.object, r.origin, data.objectGuess!, interior, 4);
  t.log(`loss ${first.toFixed(0)} (first batch) -> ${last.toFixed(0)} (epoch 3), floor ${floor.toFixed(0)}: excess down ${(excess(first) / excess(last)).toFixed(1)}x`);
  t.log(`phase correlation with the ground truth: ${quality.correlation.toFixed(3)} at shift ${quality.shift} (untrained: ${chance.correlation.toFixed(3)})`);
  t.log(`${(history.batchLoss.length * 4 / history.seconds).toFixed(1)} groups/s over ${history.seconds.toFixed(1)} s`);
  t.is(history.stop, 'completed');
  t.is(history.epochLoss.length, 3);
  t.true(excess(first) / excess(last) > 3);
  // the untrained network's output already follows the patterns a little, hence the margin
  // the quality regression (issue 17): 0.900 here at the demo's batch 4 and 1e-3; the SPEC section
  // 10 scores are logged and held to what this schedule gives (amplitude correlation 0.57: batch 16
  // at 3e-3 gave 0.38 and less)
  t.true(quality.correlation > 0.85);
  t.true(quality.correlation > chance.correlation + 0.4);
  const scored = await compareObjects(r.object, r.origin, data.objectGuess!, { region: interior });
  t.log(`phase SSIM ${scored.phase.ssim.toFixed(3)}, correlation ${scored.phase.correlation.toFixed(3)}; amplitude SSIM ${scored.amplitude.ssim.toFixed(3)}, correlation ${scored.amplitude.correlation.toFixed(3)}`);
  t.true(scored.phase.correlation > 0.85 && scored.amplitude.correlation > 0.45, `${scored.phase.correlation} ${scored.amplitude.correlation}`);
  // progress: every batch reported, the last of each epoch with the epoch's loss
  t.is(progress.length, 3 * 128);
  t.deepEqual(progress.filter((p) => p.epochEnd).map((p) => p.epochLoss), history.epochLoss);
  t.true(progress.every((p) => p.samplesPerSecond > 0 && p.batches === 128 && p.epochs === 3));
  t.deepEqual(r.object.shape, [152, 153]);
});

serial('the same seed and thread count give identical weights and outputs; another seed does not', async (t) => {
  t.timeout(600_000);
  const run = (seed: number) => train(data, { model: { gridsize: 1 }, training: { nGroups: 24, maxEpochs: 1, batchSize: 8, seed } }, { threads: 2 });
  const [a, b, c] = [await run(7), await run(7), await run(8)];
  t.deepEqual(a.parameters(), b.parameters());
  t.deepEqual(a.history!.batchLoss, b.history!.batchLoss);
  t.notDeepEqual(a.parameters()[0].data, c.parameters()[0].data);
  // the model records the precision that ran: fp32 by default, the CPU's choice for `auto` (bf16
  // only where it multiplies bf16 natively)
  t.is(a.training!.precision, 'fp32');
  const auto = await train(data, { model: { gridsize: 1 }, training: { nGroups: 8, maxEpochs: 1, batchSize: 8, precision: 'auto' } }, { threads: 2 });
  // the CPU's bf16 flags read by grep, not by the package's own parser
  const bf16 = spawnSync('grep', ['-qwE', 'avx512_bf16|amx_bf16', '/proc/cpuinfo']).status === 0;
  t.is(auto.training!.precision, bf16 ? 'bf16' : 'fp32');
  const [ra, rb] = [await a.reconstruct(data, { nImages: 16, threads: 2 }), await b.reconstruct(data, { nImages: 16, threads: 2 })];
  t.deepEqual(Buffer.from(ra.object.data.buffer), Buffer.from(rb.object.data.buffer));
});

serial('gridsize 2 trains with object_big and reconstructs from its groups', async (t) => {
  t.timeout(600_000);
  const warnings: string[] = [];
  const model = await train(data, { model: { gridsize: 2 }, training: { nGroups: 48, maxEpochs: 1, batchSize: 8 } },
    { threads: 2, onWarning: (w) => warnings.push(w), validation: data });
  t.is(model.parameterCount, 2_344_528);
  t.deepEqual(warnings, []);
  const h = model.history!;
  t.true(h.batchLoss.every(Number.isFinite));
  t.is(h.validationLoss.length, 1);
  t.true(Number.isFinite(h.validationLoss[0]!));
  const r = await model.reconstruct(data, { nImages: 40, threads: 2, keepPatches: true });
  t.deepEqual(r.patches!.shape, [40, 4, 64, 64]);
  t.is(r.patterns.length, 160);
  t.true(r.object.data.every(Number.isFinite));
  t.true(r.amplitude.data.some((v) => v > 0));
  // without n_images: by default only the groups that hold every pattern, else one per position
  const total = data.diffraction.shape[0];
  const cover = await model.reconstruct(data, { threads: 2 });
  t.is(new Set(cover.patterns).size, total);
  t.true(cover.patterns.length / 4 < total / 2, `${cover.patterns.length / 4} groups`);
  const every = await model.reconstruct(data, { threads: 2, inferenceGroups: 'every' });
  t.is(every.patterns.length, 4 * total);
});

serial('aborting returns the weights trained so far', async (t) => {
  t.timeout(600_000);
  const controller = new AbortController();
  const initial = new PtychoPinnModel({ config: { N: 64, gridsize: 1, nFiltersScale: 2, ampActivation: 'silu', probeBig: true, objectBig: true, probeMask: false, memberNetwork: 'joint' }, probe: data.probe, intensityScale: 1, seed: 42 }).parameters();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const model = await train(data, { model: { gridsize: 1 }, training: { nGroups: 512, maxEpochs: 50, batchSize: 8 } },
    { threads: 2, signal: controller.signal, onProgress: (p) => { if (p.batch === 3) controller.abort(); } });
  clearInterval(timer);
  t.is(model.history!.stop, 'cancelled');
  t.true(model.history!.batchLoss.length >= 3 && model.history!.batchLoss.length < 10);
  t.notDeepEqual(model.parameters()[0].data, initial[0].data);
  t.true(ticks > 0, 'the event loop ran while training');
});

serial('a loss that stops being finite ends training with a clear error and the last good weights', async (t) => {
  t.timeout(600_000);
  const error = await t.throwsAsync(train(data, { model: { gridsize: 1 }, training: { nGroups: 64, maxEpochs: 20, batchSize: 8, learningRate: 1e9 } }, { threads: 2 }),
    { instanceOf: TrainingError });
  t.regex(error!.message, /run1084_sim\.npz: training stopped: (the loss became (NaN|infinite)|a gradient became NaN or infinite) at epoch \d+, batch \d+; the model keeps the weights from before that batch/);
  const model = (error as TrainingError).model;
  t.is(model.history!.stop, 'non_finite');
  t.true(allFinite(model));
});

serial('impossible configuration is refused before any work, naming the API field (and the flag for the CLI)', async (t) => {
  t.timeout(600_000);
  const error = await t.throwsAsync(train(data, { training: { batchSize: 0 } }), { instanceOf: ConfigError, message: /^training\.batchSize must be an integer from 1 to 1048576, got 0$/ });
  t.is((error as ConfigError).flagMessage, '--batch_size must be an integer from 1 to 1048576, got 0');
  await t.throwsAsync(train(data, { model: { ampActivation: 'tanh' as never } }), { message: /^model\.ampActivation must be one of silu, sigmoid, softplus, relu, got "tanh"/ });
  await t.throwsAsync(train(data, { training: { learningRate: -1 } }), { message: /^training\.learningRate must be a positive finite number, got -1/ });
  await t.throwsAsync(train(data, { training: { learningRate: '0.1' as never } }), { message: /^training\.learningRate must be a positive finite number, got "0\.1"/ });
  await t.throwsAsync(train(data, { training: { epochs: 3 } as never }), { message: /^training\.epochs is not an option here/ });
  await t.throwsAsync(train(data, {}, { threads: 100000 }), { message: /^threads must be an integer from 1 to 1024, got 100000/ });
});

serial('the default schedule is cosine for 128 x 128 patterns and none for 64 x 64, and the model records which ran', async (t) => {
  t.timeout(900_000);
  // the cosine schedule written out from its definition (README: Another object, and N = 128): a
  // linear warm-up over min(an epoch, a tenth of the run), then a cosine fall to 5 % of the rate
  const cosine = (base: number, step: number, total: number, perEpoch: number) => {
    const warmup = Math.max(1, Math.min(perEpoch, Math.floor(total / 10)));
    if (step < warmup) return base * (step + 1) / warmup;
    const progress = Math.min(1, (step - warmup) / Math.max(1, total - 1 - warmup));
    return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * progress)));
  };
  t.deepEqual([64, 128, 256].map((N) => resolveScheduler('auto', N)), ['none', 'cosine', 'cosine']);
  t.deepEqual(['none', 'exponential', 'plateau', 'cosine'].map((s) => resolveScheduler(s as 'none', 256)), ['none', 'exponential', 'plateau', 'cosine']);
  const rates = async (dataset: Dataset, training: { scheduler?: 'auto' | 'none'; maxEpochs?: number }) => {
    const seen: number[] = [];
    const model = await train(dataset, { model: { gridsize: 1, nFiltersScale: 1 }, training: { nGroups: 16, maxEpochs: 3, batchSize: 2, learningRate: 2e-3, ...training } },
      { threads: 2, onProgress: (p) => seen.push(p.learningRate) });
    return { model, seen };
  };
  const probe = await pinholeProbe(128, 16, 512);
  const { dataset: big } = await simulate(data.objectGuess!, probe, spiralScan(data.objectGuess!.shape, 128, { count: 16, step: 4 }), { photons: 1e6, threads: 2 });
  t.is(big.diffraction.shape[1], 128);
  const atBig = await rates(big, {});
  t.is(atBig.model.training!.scheduler, 'cosine');
  // 24 batches: a warm-up of 2, then the fall
  t.is(atBig.seen.length, 24);
  for (const [step, rate] of atBig.seen.entries()) t.true(Math.abs(rate - cosine(2e-3, step, 24, 8)) < 1e-12, `step ${step}: ${rate}`);
  t.is(atBig.seen[0], 1e-3);
  t.true(atBig.model.history!.epochLoss.every(Number.isFinite));
  // asked for by name, a schedule is kept whatever N is
  t.is((await rates(big, { scheduler: 'none', maxEpochs: 1 })).model.training!.scheduler, 'none');
  const atSmall = await rates(data, { scheduler: 'auto' });
  t.is(atSmall.model.training!.scheduler, 'none');
  t.deepEqual([...new Set(atSmall.seen)], [2e-3]);
});
