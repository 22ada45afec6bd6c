// ONNX export and the ONNX Runtime backend: every configuration exports and matches LibTorch's
// network, a whole reconstruction through ONNX matches LibTorch's, the JavaScript stitch matches the
// addon's, and Python's onnx and onnxruntime agree (tests/no-addon.test.ts runs it without the addon).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import * as ort from 'onnxruntime-node';
import { loadModel, readBundle, saveModel, verifyBundle } from '../lib/bundle.js';
import { resolveModelConfig, type ModelConfig } from '../lib/config.js';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import { AbortedError } from '../lib/errors.js';
import { PtychoPinnModel, nativeOf } from '../lib/model.js';
import { writeNpy, readNpy } from '../lib/npy.js';
import { ONNX_OPSET, encodeOnnxModel, onnxSchema } from '../lib/onnx/export.js';
import { OnnxModel, OnnxModelError } from '../lib/onnx/model.js';
import { CanvasSum, canvasFor, probeWeights, stitch } from '../lib/stitching.js';
import { train } from '../lib/training.js';
import { relativeError } from './helpers/arrays.js';
import { runCli } from './helpers/cli.js';
import { findPython, runPython } from './helpers/python.js';
import { seeded } from './helpers/random.js';

const work = mkdtempSync(join(tmpdir(), 'ptpinn-onnx-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

const FIXTURE = 'fixtures/run1084_sim.npz';
let data: Dataset;
let trained: PtychoPinnModel;
let bundle: string;
test.before(async () => {
  data = await loadDataset(FIXTURE);
  trained = await train(data, { model: { gridsize: 2 }, training: { nGroups: 64, maxEpochs: 1, batchSize: 16, learningRate: 3e-3 } }, { threads: 2 });
  bundle = join(work, 'g2.ptpinn');
  await saveModel(trained, bundle, { withOnnx: true });
});

/**
 * A network whose weights are drawn wide (uniform, +-2/sqrt(fan-in)) so that every path, both
 * activations and the probe_big branch, shapes the output: fresh weights give an almost flat one.
 */
function wideNetwork(config: ModelConfig, seed: number): PtychoPinnModel {
  const n = config.N;
  const probe = { dtype: 'complex64' as const, shape: [n, n], data: new Float32Array(2 * n * n).fill(1) };
  const model = new PtychoPinnModel({ config, probe, intensityScale: 2.5, seed });
  const random = seeded(seed);
  model.loadParameters(model.parameters().map((p) => {
    const fanIn = p.shape.length === 4 ? p.shape[1] * 9 : 4;
    const bound = 2 / Math.sqrt(fanIn);
    return { ...p, data: p.data.map((v) => v + (2 * random() - 1) * bound) };
  }));
  return model;
}

/** Random amplitudes (G, C, N, N) with the spread of diffraction data: most small, a few large. */
function amplitudes(count: number, seed: number): Float32Array {
  const random = seeded(seed);
  return Float32Array.from({ length: count }, () => 8 * random() ** 4);
}

const CONFIGS: Partial<ModelConfig>[] = [
  { N: 64, gridsize: 1 },
  { N: 64, gridsize: 2 },
  { N: 128, gridsize: 1 },
  { N: 128, gridsize: 2 },
  { N: 64, gridsize: 3, ampActivation: 'sigmoid', probeBig: false },
  { N: 64, gridsize: 4 },
  { N: 64, gridsize: 1, ampActivation: 'softplus', nFiltersScale: 1 },
  { N: 64, gridsize: 1, ampActivation: 'relu' },
  { N: 64, gridsize: 2, nFiltersScale: 3, probeBig: false },
  { N: 256, gridsize: 1, nFiltersScale: 1 },
  { N: 64, gridsize: 2, memberNetwork: 'shared' },
  { N: 128, gridsize: 3, memberNetwork: 'shared', probeBig: false },
];

for (const partial of CONFIGS) {
  const config = resolveModelConfig(partial);
  const name = `N = ${config.N}, gridsize ${config.gridsize}, ${config.ampActivation}, probe_big ${config.probeBig}, f = ${config.nFiltersScale}, ${config.memberNetwork}`;
  test.serial(`the exported graph (${name}) gives LibTorch's patches within 1e-4`, async (t) => {
    t.timeout(300_000);
    const model = wideNetwork(config, 11);
    const c = config.gridsize ** 2;
    const n = config.N;
    const groups = 3;
    const x = amplitudes(groups * c * n * n, 5);
    const native = await nativeOf(model).predict({
      diffraction: x, nPatterns: groups * c, groups: Int32Array.from({ length: groups * c }, (_, i) => i), nGroups: groups,
      scale: model.intensityScale, batchSize: groups * c, precision: 'fp32', threads: 2, keepPatches: true,
    });
    const session = await ort.InferenceSession.create(await model.toOnnx(), { intraOpNumThreads: 2 });
    try {
      const out = await session.run({ diffraction: new ort.Tensor('float32', x, [groups, c, n, n]) });
      t.deepEqual(out.real.dims, [groups, c, n, n]);
      const expected = native.patches!.data;
      const re = expected.filter((_, i) => i % 2 === 0);
      const im = expected.filter((_, i) => i % 2 === 1);
      const error = Math.max(relativeError(out.real.data as Float32Array, re), relativeError(out.imag.data as Float32Array, im));
      // the outputs must vary, or the comparison proves little
      const range = (v: Float32Array) => v.reduce((m, a) => Math.max(m, a), -Infinity) - v.reduce((m, a) => Math.min(m, a), Infinity);
      const spread = Math.min(range(re), range(im));
      t.log(`${name}: relative error ${error.toExponential(2)}, spread of the real and imaginary parts at least ${spread.toFixed(3)}`);
      t.true(spread > 0.1);
      t.true(error <= 1e-4);
    } finally {
      await session.release();
      model.dispose();
    }
  });
}

test.serial('a whole reconstruction through ONNX Runtime is LibTorch\'s, within 1e-4', async (t) => {
  t.timeout(600_000);
  const torch = await (await loadModel(bundle)).reconstruct(data, { threads: 2, precision: 'fp32', keepPatches: true });
  const stored = await OnnxModel.load(bundle);
  t.is(stored.source, 'bundle');
  const progress: number[] = [];
  const viaOnnx = await stored.reconstruct(data, { threads: 2, keepPatches: true, onProgress: (p) => progress.push(p.done) });
  t.deepEqual(viaOnnx.origin, torch.origin);
  t.deepEqual(viaOnnx.object.shape, torch.object.shape);
  t.deepEqual(viaOnnx.patterns, torch.patterns);
  t.is(viaOnnx.precision, 'fp32');
  t.is(progress.at(-1), torch.patterns.length / 4);
  const patchError = relativeError(viaOnnx.patches!.data, torch.patches!.data);
  const objectError = relativeError(viaOnnx.object.data, torch.object.data);
  t.log(`patches: relative error ${patchError.toExponential(2)}; stitched object: ${objectError.toExponential(2)}`);
  t.true(patchError <= 1e-4);
  t.true(objectError <= 1e-4);
  // a bundle without model.onnx is exported on the spot, and the standalone file carries what
  // grouping needs: the same object either way
  const plain = join(work, 'plain.ptpinn');
  await saveModel(trained, plain);
  t.false((await readBundle(plain)).onnx !== undefined);
  const built = await OnnxModel.load(plain);
  t.is(built.source, 'built from weights');
  const file = join(work, 'g2.onnx');
  await trained.exportOnnx(file);
  const standalone = await OnnxModel.load(file);
  t.is(standalone.source, 'onnx file');
  t.is(standalone.intensityScale, trained.intensityScale);
  t.deepEqual(standalone.config, trained.config);
  // the training probe travels in the metadata, for probe weights and refinement
  t.deepEqual(standalone.probe?.data, trained.probe.data);
  for (const other of [built, standalone]) {
    const again = await other.reconstruct(data, { threads: 2 });
    t.deepEqual(again.object.data, viaOnnx.object.data);
    await other.release();
  }
  await stored.release();
});

test.serial('rescaled inference, probe weights and another grouping seed go through ONNX as through LibTorch', async (t) => {
  t.timeout(600_000);
  const options = { threads: 2, rescaleInference: true, stitchWeights: 'probe' as const, seed: 7, nImages: 40 };
  const torch = await (await loadModel(bundle)).reconstruct(data, { ...options, precision: 'fp32' });
  const viaOnnx = await OnnxModel.load(bundle);
  const result = await viaOnnx.reconstruct(data, options);
  await viaOnnx.release();
  t.not(result.intensityScale, trained.intensityScale);
  t.is(result.intensityScale, torch.intensityScale);
  t.deepEqual(result.patterns, torch.patterns);
  const error = relativeError(result.object.data, torch.object.data);
  t.log(`relative error ${error.toExponential(2)}`);
  t.true(error <= 1e-4);
});

test.serial('an ONNX reconstruction stops at the next batch when its signal aborts', async (t) => {
  t.timeout(300_000);
  const model = await OnnxModel.load(bundle);
  const stop = new AbortController();
  const seen: number[] = [];
  await t.throwsAsync(model.reconstruct(data, { threads: 2, onProgress: (p) => { seen.push(p.done); stop.abort(); }, signal: stop.signal }),
    { instanceOf: AbortedError, message: /aborted: nothing was returned/ });
  t.deepEqual(seen, [4]);
  await model.release();
});

test.serial('model.onnx in a bundle is listed and hashed in the manifest, and is what toOnnx gives', async (t) => {
  const contents = await readBundle(bundle);
  t.true(Buffer.from(await trained.toOnnx()).equals(contents.onnx!));
  const manifest = await verifyBundle(bundle);
  t.is(manifest.entries['model.onnx'].size, contents.onnx!.length);
  t.regex(manifest.entries['model.onnx'].sha256, /^[0-9a-f]{64}$/);
});

test('the JavaScript stitch is the addon\'s: sub-pixel positions, probe weights, patches added one by one', async (t) => {
  t.timeout(120_000);
  const n = 64;
  const k = 40;
  const random = seeded(3);
  const patches = Float32Array.from({ length: 2 * k * n * n }, () => 2 * random() - 1);
  const x = Float64Array.from({ length: k }, () => 100 + 60 * random());
  const y = Float64Array.from({ length: k }, () => 80 + 50 * random());
  const weights = probeWeights(data.probe);
  const native = await stitch({ dtype: 'complex64', shape: [k, n, n], data: patches }, x, y, { weights, threads: 1 });
  const sum = new CanvasSum(canvasFor(x, y, n), weights, n);
  const re = patches.filter((_, i) => i % 2 === 0);
  const im = patches.filter((_, i) => i % 2 === 1);
  for (let i = 0; i < k; i++) sum.add(re, im, i * n * n, x[i], y[i]);
  const js = sum.finish();
  t.deepEqual(js.shape, native.object.shape);
  const error = relativeError(js.data, native.object.data);
  t.log(`relative error ${error.toExponential(2)}`);
  t.true(error <= 1e-5);
  t.throws(() => sum.add(re, im, 0, 0, 0), { message: /falls outside the .* canvas/ });
});

test('bad ONNX input gets a message naming the file', async (t) => {
  const junk = join(work, 'junk.onnx');
  writeFileSync(junk, 'not a protobuf at all \x00\xff');
  await t.throwsAsync(OnnxModel.load(junk), { instanceOf: OnnxModelError, message: new RegExp(`${junk}: not an ONNX model`) });
  // a valid ONNX graph without our metadata: the scale and gridsize are unknown
  const foreign = join(work, 'foreign.onnx');
  const bytes = encodeOnnxModel({ config: trained.config, weights: trained.parameters(), intensityScale: 1, seed: 1 });
  const Model = onnxSchema().lookupType('onnx.ModelProto');
  const message = Model.decode(bytes) as unknown as { metadataProps: unknown[] };
  message.metadataProps = [];
  writeFileSync(foreign, Model.encode(message).finish());
  await t.throwsAsync(OnnxModel.load(foreign), { message: new RegExp(`${foreign}: an ONNX model without ptychopinn's metadata`) });
  message.metadataProps = [{ key: 'ptychopinn', value: JSON.stringify({ format: 'ptychopinn-onnx', formatVersion: 1, package: '0', config: { model: { N: 50 } }, intensityScale: 1, seed: 1 }) }];
  writeFileSync(foreign, Model.encode(message).finish());
  await t.throwsAsync(OnnxModel.load(foreign), { message: new RegExp(`${foreign}: metadata_props "ptychopinn" holds an invalid configuration: .*N`) });
  t.throws(() => encodeOnnxModel({ config: trained.config, weights: trained.parameters().slice(1), intensityScale: 1, seed: 1 }),
    { message: /the weights lack encoder\.blocks\.0\.conv1\.weight/ });
});

test.serial('the CLI: export-onnx, infer --backend onnx on the .onnx, and the usage errors', async (t) => {
  t.timeout(600_000);
  const file = join(work, 'cli.onnx');
  const exported = await runCli(['export-onnx', '--model-path', bundle, '--output', file]);
  t.is(exported.code, 0, exported.stderr);
  for (const [flags, message] of [
    [['--precision', 'bf16'], /--precision bf16 needs --backend torch/],
    [['--device', 'cuda'], /--device cuda: --backend onnx runs on the CPU/],
    [['--align_phases', '2'], /--align_phases needs --backend torch/],
    [['--gridsize', '1'], /--gridsize is 1, but the model in .*cli\.onnx was trained with 2/],
  ] as const) {
    const r = await runCli(['infer', '--backend', 'onnx', '--model_path', file, '--test_data', FIXTURE, '--output_dir', join(work, 'x'), ...flags]);
    t.is(r.code, 2, flags.join(' '));
    t.regex(r.stderr, message);
  }
  const torchOnOnnx = await runCli(['infer', '--model_path', file, '--test_data', FIXTURE, '--output_dir', join(work, 'x')]);
  t.is(torchOnOnnx.code, 1);
  t.regex(torchOnOnnx.stderr, /cli\.onnx: not a model bundle .* runs with --backend onnx/);
  const out = join(work, 'cli-infer');
  const run = await runCli(['infer', '--backend', 'onnx', '--model_path', file, '--test_data', FIXTURE, '--output_dir', out, '--n_images', '20', '--threads', '2']);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /ONNX Runtime on the \.onnx file/);
  t.true(existsSync(join(out, 'reconstruction.npz')));
  const inspected = await runCli(['inspect', file]);
  t.is(inspected.code, 0, inspected.stderr);
  t.regex(inspected.stdout, /ONNX model .* exported by ptychopinn[\s\S]*gridsize 2[\s\S]*intensity scale/);

  // train --with-onnx stores the graph, and infer --backend onnx then runs the stored one
  const trainOut = join(work, 'cli-train');
  const trainRun = await runCli(['train', '--train-data-file', FIXTURE, '--output-dir', trainOut, '--max_epochs', '1', '--n_groups', '16',
    '--gridsize', '1', '--logger', 'none', '--with-onnx', '--threads', '2']);
  t.is(trainRun.code, 0, trainRun.stderr);
  t.regex(trainRun.stdout, /with model\.onnx/);
  t.truthy((await readBundle(join(trainOut, 'model.ptpinn'))).onnx);
  const stored = await runCli(['infer', '--backend', 'onnx', '--model_path', trainOut, '--test_data', FIXTURE, '--output_dir', join(work, 'cli-stored'), '--n_images', '8', '--threads', '2']);
  t.is(stored.code, 0, stored.stderr);
  t.regex(stored.stdout, /ONNX Runtime on the bundle's model\.onnx/);
});

test('an exported graph passes onnx.checker and runs the same in Python onnxruntime', async (t) => {
  t.timeout(300_000);
  const python = findPython(['onnx', 'onnxruntime', 'numpy']);
  if (!python) {
    t.log('no Python with onnx, onnxruntime and numpy: `python3 -m pip install onnx onnxruntime numpy` runs this check');
    t.pass();
    return;
  }
  const file = join(work, 'python.onnx');
  await trained.exportOnnx(file);
  const n = 64;
  const x = amplitudes(2 * 4 * n * n, 9);
  const input = join(work, 'x.npy');
  const output = join(work, 'y.npy');
  await writeNpy(input, { dtype: 'float32', shape: [2, 4, n, n], data: x });
  const report = runPython(python, `
import sys, numpy as np, onnx, onnxruntime as ort
path, src, dst = sys.argv[1:]
model = onnx.load(path)
onnx.checker.check_model(model, full_check=True)
session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
real, imag = session.run(['real', 'imag'], {'diffraction': np.load(src)})
np.save(dst, (real + 1j * imag).astype(np.complex64))
print(model.opset_import[0].version, model.ir_version, onnx.__version__, ort.__version__)
`, [file, input, output]);
  t.log(`opset, IR, onnx, onnxruntime: ${report.trim()}`);
  t.regex(report, new RegExp(`^${ONNX_OPSET} `));
  const fromPython = await readNpy(output);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 2 });
  const ours = await session.run({ diffraction: new ort.Tensor('float32', x, [2, 4, n, n]) });
  await session.release();
  const real = (fromPython.data as Float32Array).filter((_, i) => i % 2 === 0);
  const imag = (fromPython.data as Float32Array).filter((_, i) => i % 2 === 1);
  t.true(relativeError(ours.real.data as Float32Array, real) <= 1e-5);
  t.true(relativeError(ours.imag.data as Float32Array, imag) <= 1e-5);
});
