// THE regression of the seeds: the CPU cycle through the command line, as a user runs it.
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { loadModel } from '../lib/bundle.js';
import { imageSize } from '../lib/images.js';
import { coverage, imageOptions } from '../lib/outputs.js';
import { readNpz } from '../lib/npz.js';
import { runCli } from './helpers/cli.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');
let dir = '';
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'ptpinn-cycle-')); });
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

test('train (2 epochs, 64 groups, batch 4) then infer (32) through the CLI, within the guardrail', async (t) => {
  t.timeout(600_000);
  const trainOut = join(dir, 'train');
  const train = await runCli(['train', '--train-data-file', FIXTURE, '--output-dir', trainOut, '--max_epochs', '2',
    '--n_groups', '64', '--batch_size', '4', '--gridsize', '1', '--disable_mlflow']);
  t.is(train.code, 0, train.stderr);
  const inferOut = join(dir, 'infer');
  const infer = await runCli(['infer', '--model_path', trainOut, '--test_data', FIXTURE, '--output_dir', inferOut, '--n_images', '32']);
  t.is(infer.code, 0, infer.stderr);
  const total = train.seconds + infer.seconds;
  t.log(`train ${train.seconds.toFixed(2)} s + infer ${infer.seconds.toFixed(2)} s = ${total.toFixed(2)} s (guardrail 90 s; the reference: 32.5-36 s on 32 threads)`);
  t.true(total < 90);

  // the bundle loads and is what was asked for
  const model = await loadModel(join(trainOut, 'model.ptpinn'));
  t.like(model.config, { N: 64, gridsize: 1 });
  t.is(model.history?.epochLoss.length, 2);
  t.is(model.training?.nGroups, 64);
  const history = JSON.parse(await readFile(join(trainOut, 'history.json'), 'utf8'));
  t.deepEqual(history.epochLoss, model.history?.epochLoss);
  t.regex(await readFile(join(trainOut, 'train.log'), 'utf8'), /epoch 2\/2 {2}loss/);

  // the reconstruction: a finite complex object covering the 32 positions
  const npz = await readNpz(join(inferOut, 'reconstruction.npz'));
  const x = npz.xcoords.data as Float64Array;
  const y = npz.ycoords.data as Float64Array;
  t.is(x.length, 32);
  const span = (v: Float64Array) => Math.floor(Math.max(...v)) - Math.floor(Math.min(...v)) + 64 + 2;
  const shape = [span(y), span(x)];
  t.is(npz.object.dtype, 'complex64');
  t.deepEqual(npz.object.shape, shape);
  t.true((npz.object.data as Float32Array).every(Number.isFinite));
  t.true((npz.amplitude.data as Float32Array).some((v) => v > 0));
  const mask = coverage({ dtype: 'complex64', shape, data: npz.object.data as Float32Array });
  for (const part of ['amplitude', 'phase'] as const) {
    const png = PNG.sync.read(await readFile(join(inferOut, `reconstructed_${part}.png`)));
    const size = imageSize(shape[0], shape[1], imageOptions(part, mask));
    t.deepEqual([png.width, png.height], [size.width, size.height], part);
    t.true(Math.max(png.width, png.height) >= 512); // enlarged to be read
  }
  const metrics = JSON.parse(await readFile(join(inferOut, 'metrics.json'), 'utf8'));
  t.true(Number.isFinite(metrics.phase.mae) && Number.isFinite(metrics.amplitude.ssim));
  t.regex(metrics.reference, /objectGuess \(ground truth\)$/);
  t.true(existsSync(join(inferOut, 'frc.png')));
  t.regex(await readFile(join(inferOut, 'infer.log'), 'utf8'), /reconstructed 32 group\(s\)/);
});
