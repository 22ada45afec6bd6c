// `inputNorm: 'pixel'`: the network sees each pixel standardised over the training patterns. The
// statistics against a direct computation, the addon applying exactly (x - mean) / std (against a
// model without it fed pre-transformed data), the bundle keeping them, and ONNX applying them too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadModel, saveModel } from '../lib/bundle.js';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import { PtychoPinnModel, nativeOf } from '../lib/model.js';
import { OnnxModel } from '../lib/onnx/model.js';
import { inputNormalization } from '../lib/scaling.js';
import { train } from '../lib/training.js';
import { relativeError } from './helpers/arrays.js';

const work = mkdtempSync(join(tmpdir(), 'ptpinn-input-norm-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

let data: Dataset;
let model: PtychoPinnModel;
let bundle: string;
test.before(async () => {
  data = await loadDataset('fixtures/run1084_sim.npz');
  model = await train(data, { model: { gridsize: 1 }, training: { nGroups: 64, maxEpochs: 1, batchSize: 16, inputNorm: 'pixel' } }, { threads: 2 });
  bundle = join(work, 'pixel.ptpinn');
  await saveModel(model, bundle);
});

test('the statistics: per pixel over the chosen patterns, each once, the floor added to the deviation', (t) => {
  // three 2 x 2 patterns; pixel 3 is dark in all of them
  const d = Float32Array.of(1, 2, 3, 0, 3, 2, 1, 0, 8, 8, 8, 0);
  const { mean, std } = inputNormalization(d, 2, 2, [0, 1, 1, 0], 0.25);
  // patterns 0 and 1 divided by 2: pixel 0 holds 0.5 and 1.5, pixel 1 1 and 1, pixel 2 1.5 and 0.5
  t.deepEqual(Array.from(mean), [1, 1, 1, 0]);
  t.deepEqual(Array.from(std), [0.75, 0.25, 0.75, 0.25]);
  t.throws(() => inputNormalization(d, 2, 1, [3]), { message: /pattern index 3 is outside \[0, 3\)/ });
});

test('training keeps the statistics of its patterns; the addon applies (x - mean) / std', async (t) => {
  t.timeout(600_000);
  const norm = model.inputNorm!;
  t.truthy(norm);
  t.is(norm.mean.length, 64 * 64);
  t.true(norm.std.every((v) => v >= 1e-3 && Number.isFinite(v)));
  // the mean pattern of amplitudes / s: sum of squares near (N/2)^2 = 1024 for the fixture's patterns
  const power = norm.mean.reduce((s, v) => s + v * v, 0);
  t.true(power > 500 && power < 1100, `${power}`);

  // the same weights without the normalisation, fed data already transformed, give the same patches
  const plain = new PtychoPinnModel({ config: model.config, probe: model.probe, intensityScale: model.intensityScale, seed: model.seed });
  plain.loadParameters(model.parameters());
  const s = model.intensityScale;
  const size = 64 * 64;
  const transformed = data.diffraction.data.map((v, i) => ((v / s - norm.mean[i % size]) / norm.std[i % size]) * s);
  // the addon's own call: a dataset of standardised values (negative ones too) is no dataset
  const predict = (m: PtychoPinnModel, diffraction: Float32Array, inputNorm = m.inputNorm) => nativeOf(m).predict({
    diffraction, nPatterns: data.diffraction.shape[0], groups: Int32Array.from({ length: 48 }, (_, i) => i), nGroups: 48,
    scale: s, inputNorm, batchSize: 16, precision: 'fp32', threads: 2, keepPatches: true,
  }).then((r) => r.patches!.data);
  const withNorm = await predict(model, data.diffraction.data as Float32Array);
  const byHand = await predict(plain, transformed as Float32Array);
  const untransformed = await predict(plain, data.diffraction.data as Float32Array);
  const error = relativeError(withNorm, byHand);
  t.log(`relative difference to the hand-made input: ${error.toExponential(2)}`);
  t.true(error < 1e-4);
  t.true(relativeError(untransformed, withNorm) > 1e-2);
  // reconstruct passes the model's statistics
  const viaReconstruct = await model.reconstruct(data, { nImages: 48, threads: 2, precision: 'fp32', keepPatches: true });
  t.deepEqual(viaReconstruct.patches!.data, withNorm);
  // and the addon refuses statistics it cannot use
  await t.throwsAsync(async () => predict(plain, transformed as Float32Array, { mean: norm.mean, std: new Float32Array(size) }),
    { message: /inputNorm.std must be positive everywhere/ });
  plain.dispose();
});

test('the bundle keeps the statistics; the loaded model and ONNX Runtime reconstruct as the trained one', async (t) => {
  t.timeout(600_000);
  const loaded = await loadModel(bundle);
  t.deepEqual(loaded.inputNorm, model.inputNorm);
  t.is(loaded.training?.inputNorm, 'pixel');
  const options = { threads: 2, precision: 'fp32' as const, keepPatches: true };
  const original = await model.reconstruct(data, options);
  const again = await loaded.reconstruct(data, options);
  t.deepEqual(again.object.data, original.object.data);
  const onnx = await (await OnnxModel.load(bundle)).reconstruct(data, { threads: 2, keepPatches: true });
  const error = relativeError(onnx.patches!.data, original.patches!.data);
  t.log(`ONNX Runtime against LibTorch: ${error.toExponential(2)}`);
  t.true(error <= 1e-4);
  loaded.dispose();
});
