// Streamed inference: the object stitched batch by batch equals the stitch of every kept patch, the
// batch size does not change the result, progress reaches the total, a dataset read from its file
// chunk by chunk gives what the loaded one does, and bf16 stays near fp32.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { addon } from '../lib/binding.js';
import { type Dataset, loadDataset, openDataset, saveDataset } from '../lib/dataset.js';
import { FilePatterns, chunkPatterns, memoryPatterns } from '../lib/patterns.js';
import { intensityScale } from '../lib/scaling.js';
import { compareObjects } from '../lib/metrics.js';
import type { PtychoPinnModel } from '../lib/model.js';
import { centerWeights, stitch } from '../lib/stitching.js';
import { train } from '../lib/training.js';

const serial = test.serial;
let data: Dataset;
let model: PtychoPinnModel;
test.before(async () => {
  data = await loadDataset('fixtures/run1084_sim.npz');
  model = await train(data, { model: { gridsize: 1 }, training: { nGroups: 128, maxEpochs: 1, batchSize: 16, learningRate: 3e-3 } }, { threads: 2 });
});

function maxDifference(a: Float32Array, b: Float32Array): { max: number; scale: number } {
  let max = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { max, scale };
}

serial('the streamed object is the stitch of every patch, whatever the batch size', async (t) => {
  t.timeout(600_000);
  const progress: { done: number; total: number }[] = [];
  // fp32: in bf16 the batch size may pick other kernels, and the comparison below is exact
  const kept = await model.reconstruct(data, { keepPatches: true, inferenceBatchSize: 16, threads: 2, precision: 'fp32', onProgress: (p) => progress.push(p) });
  const n = 64;
  const patches = kept.patches!;
  t.deepEqual(patches.shape, [512, 1, n, n]);
  const whole = await stitch({ ...patches, shape: [512, n, n] }, kept.xcoords, kept.ycoords, { weights: centerWeights(n), threads: 2 });
  t.deepEqual(whole.origin, kept.origin);
  t.deepEqual(whole.object.shape, kept.object.shape);
  const same = maxDifference(kept.object.data, whole.object.data);
  t.log(`streamed against stitched at once: max |difference| ${same.max.toExponential(2)} (values up to ${same.scale.toFixed(3)})`);
  t.true(same.max <= 1e-6 * same.scale);
  // progress after every batch of 16 patterns, ending at the total
  t.is(progress.length, 32);
  t.deepEqual(progress.at(-1), { done: 512, total: 512 });
  t.true(progress.every((p, i) => i === 0 || p.done > progress[i - 1].done));
  const streamed = await model.reconstruct(data, { inferenceBatchSize: 5, threads: 2, precision: 'fp32' });
  t.is(streamed.patches, undefined);
  const batch = maxDifference(streamed.object.data, kept.object.data);
  t.log(`batch 5 against batch 16: max |difference| ${batch.max.toExponential(2)}`);
  t.true(batch.max <= 1e-4 * batch.scale);
});

serial('bf16 convolutions reconstruct what fp32 does, within a stated tolerance', async (t) => {
  t.timeout(600_000);
  const fp32 = await model.reconstruct(data, { threads: 2, precision: 'fp32' });
  const bf16 = await model.reconstruct(data, { threads: 2, precision: 'bf16' });
  t.is(fp32.precision, 'fp32');
  t.is(bf16.precision, 'bf16');
  // the default leaves it to the CPU: bf16 only where it multiplies bf16 natively
  const auto = await model.reconstruct(data, { threads: 2, nImages: 16 });
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/) ?? [];
  t.is(auto.precision, flags.includes('avx512_bf16') || flags.includes('amx_bf16') ? 'bf16' : 'fp32');
  const interior = { top: 80, left: 80, bottom: 150, right: 150 };
  const agreement = await compareObjects(bf16.object, bf16.origin, fp32.object, { referenceOrigin: fp32.origin, region: interior, registration: false, removeRamp: false });
  const truth32 = await compareObjects(fp32.object, fp32.origin, data.objectGuess!, { region: interior });
  const truth16 = await compareObjects(bf16.object, bf16.origin, data.objectGuess!, { region: interior });
  t.log(`bf16 against fp32: phase correlation ${agreement.phase.correlation.toFixed(4)}, amplitude ${agreement.amplitude.correlation.toFixed(4)}`);
  t.log(`against the truth: phase SSIM fp32 ${truth32.phase.ssim.toFixed(3)}, bf16 ${truth16.phase.ssim.toFixed(3)}`);
  t.true(agreement.phase.correlation > 0.99 && agreement.amplitude.correlation > 0.99);
  t.true(Math.abs(truth16.phase.ssim - truth32.phase.ssim) < 0.03);
  await t.throwsAsync(model.reconstruct(data, { precision: 'fp16' as never }), { message: /precision/ });
});

test('training and inference run channels-last except with LibTorch 1.x on a CPU without AVX-512', (t) => {
  const { binding } = addon();
  const major = Number(binding.torchVersion.split('.')[0]);
  // the kernel's CPU flags, read independently of the addon's __builtin_cpu_supports
  const flags = process.arch === 'x64' ? (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').split(/\s+/) : [];
  const nchw = major < 2 && process.arch === 'x64' && !flags.includes('avx512f');
  t.is(binding.layout, nchw ? 'NCHW' : 'NHWC (channels-last)');
});

serial('tensor memory is reused from batch to batch, not mapped and faulted in afresh', async (t) => {
  t.timeout(600_000);
  t.regex(addon().binding.allocator, /tensors kept in the heap/);
  await model.reconstruct(data, { threads: 2, precision: 'fp32' }); // the heap grows to one batch's needs
  const before = process.resourceUsage().minorPageFault;
  await model.reconstruct(data, { threads: 2, precision: 'fp32' });
  const faults = process.resourceUsage().minorPageFault - before;
  // glibc's defaults: each batch's activations mapped, faulted in 4 KiB at a time and returned
  // (measured: 290 faults a pattern at 1 thread, 1700 in a whole 2-thread infer); kept in the
  // heap, the second pass reuses the first's pages (37 a pattern)
  t.log(`${faults} minor page faults for ${data.diffraction.shape[0]} patterns (${(faults / data.diffraction.shape[0]).toFixed(0)} a pattern)`);
  t.true(faults < 200 * data.diffraction.shape[0], `${faults} minor page faults`);
});

test('chunkPatterns: each pattern once, ascending, and the groups re-indexed into them', (t) => {
  const groups = Int32Array.from([9, 2, 9, 4, 2, 0, 7, 7]);
  const chunk = chunkPatterns(groups, 10);
  t.deepEqual(Array.from(chunk.patterns), [0, 2, 4, 7, 9]);
  t.deepEqual(Array.from(chunk.groups, (k) => chunk.patterns[k]), Array.from(groups));
  t.throws(() => chunkPatterns(Int32Array.from([3, 10]), 10), { message: /pattern index 10 is outside 0 to 9/ });
});

serial('a dataset read from its file chunk by chunk reconstructs exactly what the loaded one does', async (t) => {
  t.timeout(600_000);
  const dir = await mkdtemp(join(tmpdir(), 'ptpinn-stream-'));
  try {
    // stored, as np.savez writes: the patterns are read from the file by position
    const path = join(dir, 'stored.npz');
    await saveDataset(path, data);
    const file = await openDataset(path);
    t.true(file.patterns instanceof FilePatterns);
    try {
      // batch 5: chunks of 255 patterns, so the 512 take three calls and the stitch carries over
      const options = { inferenceBatchSize: 5, threads: 2, precision: 'fp32' as const };
      const progress: { done: number; total: number }[] = [];
      const streamed = await model.reconstruct(file, { ...options, onProgress: (p) => progress.push(p) });
      const held = await model.reconstruct(data, options);
      t.deepEqual(streamed.origin, held.origin);
      t.deepEqual(streamed.object.data, held.object.data);
      t.is(progress.length, Math.ceil(512 / 5));
      t.deepEqual(progress.at(-1), { done: 512, total: 512 });
      t.true(progress.every((p, i) => i === 0 || p.done > progress[i - 1].done));
      // the scale of the chosen patterns, summed 256 patterns at a time
      const rescaled = await model.reconstruct(file, { ...options, rescaleInference: true });
      const expected = intensityScale(data.diffraction.data, 64, rescaled.patterns);
      t.log(`rescaled: ${rescaled.intensityScale} streamed, ${expected} at once`);
      t.true(Math.abs(rescaled.intensityScale / expected - 1) < 1e-9);
      // a dark first block is no error when the rest has light, as it is not for the whole file
      const darkStart = Float32Array.from(data.diffraction.data);
      darkStart.fill(0, 0, 300 * 64 * 64);
      const partly = { ...data, diffraction: { ...data.diffraction, data: darkStart } };
      const { diffraction: _, ...meta } = partly;
      const dim = await model.reconstruct({ ...meta, patterns: memoryPatterns(partly), close: async () => {} }, { ...options, rescaleInference: true });
      t.true(Math.abs(dim.intensityScale / intensityScale(darkStart, 64, dim.patterns) - 1) < 1e-9);
    } finally {
      await file.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
