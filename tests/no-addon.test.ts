// An installed copy of the package without the LibTorch addon (what `npm install` leaves where no
// LibTorch is found, or with PTYCHOPINN_LIBTORCH=skip), with the metrics addon's prebuild that the
// tarball ships: the commands that need no LibTorch work, the ONNX backend reconstructs and is
// scored, compare works, and the ones that need LibTorch say what is missing. A second copy has
// neither addon (no prebuild and no compiler at install): compare says what is missing.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { findMetricsAddon } from '../lib/binding.js';
import { compareObjects } from '../lib/metrics.js';
import { saveModel } from '../lib/bundle.js';
import { loadDataset } from '../lib/dataset.js';
import { writeNpy } from '../lib/npy.js';
import { readNpz } from '../lib/npz.js';
import { OnnxModel } from '../lib/onnx/model.js';
import { train } from '../lib/training.js';
import { CLI, runNode } from './helpers/cli.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');
const work = mkdtempSync(join(tmpdir(), 'ptpinn-no-addon-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

// what npm installs: package.json, dist/lib, scripts/ and the ONNX schema (package.json "files"),
// and no build/; the dependencies are this checkout's
function installedCopy(name: string): string {
  const root = join(work, name);
  mkdirSync(join(root, 'lib', 'onnx'), { recursive: true });
  cpSync('package.json', join(root, 'package.json'));
  cpSync('dist/lib', join(root, 'dist', 'lib'), { recursive: true });
  cpSync('lib/onnx/onnx.proto3', join(root, 'lib', 'onnx', 'onnx.proto3'));
  cpSync('scripts', join(root, 'scripts'), { recursive: true });
  symlinkSync(resolve('node_modules'), join(root, 'node_modules'));
  return join(root, 'dist', 'lib', 'cli', 'bin.js');
}

let cli = '';
let bare = '';
let bundle = '';
test.before(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build:ts`);
  cli = installedCopy('installed');
  // the metrics addon as the tarball ships it (this checkout's build or prebuild of it)
  const prebuilds = join(work, 'installed', 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(prebuilds, { recursive: true });
  cpSync(findMetricsAddon().file, join(prebuilds, 'ptychopinn-metrics.napi.node'));
  bare = installedCopy('bare');
  const data = await loadDataset(FIXTURE);
  const model = await train(data, { model: { gridsize: 2 }, training: { nGroups: 32, maxEpochs: 1, batchSize: 16 } }, { threads: 2 });
  bundle = join(work, 'model.ptpinn');
  await saveModel(model, bundle);
});

const run = (args: string[]) => runNode([cli, ...args]);

test.serial('compare works without LibTorch, and says what is missing without the metrics addon', async (t) => {
  t.timeout(120_000);
  const data = await loadDataset(FIXTURE);
  const shifted = join(work, 'shifted.npy');
  // the fixture's object moved by 2 rows and 1 column, compared with the fixture's
  const [h, w] = data.objectGuess!.shape;
  const moved = new Float32Array(2 * h * w);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const from = 2 * (((r - 2 + h) % h) * w + ((c - 1 + w) % w));
      moved[2 * (r * w + c)] = data.objectGuess!.data[from];
      moved[2 * (r * w + c) + 1] = data.objectGuess!.data[from + 1];
    }
  }
  await writeNpy(shifted, { dtype: 'complex64', shape: [h, w], data: moved });
  const r = await run(['compare', shifted, FIXTURE, '--json']);
  t.is(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  t.true(Math.abs(result.shift[0] + 2) < 0.02 && Math.abs(result.shift[1] + 1) < 0.02, String(result.shift));
  t.true(result.phase.ssim > 0.99, String(result.phase.ssim));
  const missing = await runNode([bare, 'compare', shifted, FIXTURE]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /the quality metrics need the metrics addon \(it links no LibTorch\), and this install has none/);
  t.regex(missing.stderr, /npm rebuild ptychopinn/);
});

test.serial('a command that needs LibTorch says what is missing and the command that gets it', async (t) => {
  t.timeout(120_000);
  const r = await run(['train', '--train_data_file', FIXTURE, '--output_dir', join(work, 'never'), '--max_epochs', '1', '--logger', 'none']);
  t.is(r.code, 1);
  t.regex(r.stderr, /needs the native addon \(LibTorch\), and this install has none/);
  t.regex(r.stderr, /apt-get install --no-install-recommends libtorch-dev/);
  t.regex(r.stderr, /npm rebuild ptychopinn/);
  // --refine needs LibTorch's iterations: said before any reconstruction
  const refine = await run(['infer', '--backend', 'onnx', '--model_path', bundle, '--test_data', FIXTURE, '--output_dir', join(work, 'refine'), '--refine', '5']);
  t.is(refine.code, 1);
  t.regex(refine.stderr, /needs the native addon/);
  t.notRegex(refine.stdout, /reconstructed/);
});

test.serial('--version, inspect of a dataset and of a bundle work without the addon', async (t) => {
  t.timeout(120_000);
  const version = await run(['--version']);
  t.is(version.code, 0, version.stderr);
  t.regex(version.stdout, /^\d+\.\d+\.\d+/);
  const dataset = await run(['inspect', FIXTURE]);
  t.is(dataset.code, 0, dataset.stderr);
  t.regex(dataset.stdout, /dataset: 512 patterns of 64 x 64/);
  const model = await run(['inspect', bundle]);
  t.is(model.code, 0, model.stderr);
  t.regex(model.stdout, /ptychopinn model bundle[\s\S]*weights\.safetensors: \d+ bytes, sha256 [0-9a-f]{64} \(verified\)/);
});

test.serial('export-onnx and infer --backend onnx reconstruct without the addon, as in a process that has it', async (t) => {
  t.timeout(600_000);
  const exported = join(work, 'exported.onnx');
  const exportRun = await run(['export-onnx', '--model_path', bundle, '--output', exported]);
  t.is(exportRun.code, 0, exportRun.stderr);
  t.regex(exportRun.stdout, /opset 17/);
  const reference = await OnnxModel.load(bundle);
  const expected = await reference.reconstruct(await loadDataset(FIXTURE), { threads: 2 });
  await reference.release();
  for (const model of [bundle, exported]) {
    const out = join(work, `infer-${model.endsWith('.onnx') ? 'onnx' : 'bundle'}`);
    const r = await run(['infer', '--backend', 'onnx', '--model_path', model, '--test_data', FIXTURE, '--output_dir', out, '--threads', '2']);
    t.is(r.code, 0, r.stderr);
    const npz = await readNpz(join(out, 'reconstruction.npz'));
    t.deepEqual(npz.object.data, expected.object.data);
    t.true(existsSync(join(out, 'reconstructed_phase.png')));
    // scored by the metrics addon as in this process
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
    const region = metrics.region;
    const here = await compareObjects(expected.object, expected.origin, (await loadDataset(FIXTURE)).objectGuess!, { region });
    t.is(metrics.phase.ssim, here.phase.ssim);
    t.deepEqual(metrics.shift, here.shift);
  }
});
