// Every raw entry point of the addons (LibTorch's and the metrics one), called with wrong
// arguments: each must throw (or reject) an Error and leave the process alive. Before the guard,
// diffract with an empty shape ended the process with std::terminate (exit 134).
import test from 'ava';
import { addon, metricsAddon } from '../lib/binding.js';
import { runNode } from './helpers/cli.js';

const { binding } = addon();
const metrics = metricsAddon().binding;
const r = (n: number) => new Float64Array(n);
const compareOptions = (over: object = {}) => ({
  offsetRow: 0, offsetCol: 0, top: 0, left: 0, height: 32, width: 32, registration: true, maxShift: 8, upsample: 10, removeRamp: true, ...over,
});
const c = (n: number) => new Float32Array(2 * n);
const detached = () => {
  const a = new Float32Array(8);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
};
const model = () => new binding.Model({ n: 64, channels: 1, filterScale: 1, ampActivation: 'silu', probeBig: true, sharedMembers: false, seed: 1 });
const grouped = (over: object = {}) => ({
  diffraction: new Float32Array(64 * 64), nPatterns: 1, groups: new Int32Array([0]), nGroups: 1, offsets: new Float32Array(2), ...over,
});
const trainArgs = (over: object = {}) => ({
  train: grouped(), probe: c(64 * 64), scale: 1, epochs: 1, batchSize: 1, learningRate: 1e-3, seed: 1, loss: 'poisson',
  scheduler: 'none', earlyStopPatience: 1, objectBig: true, threads: 1, ...over,
});
const canvas = { originRow: 0, originCol: 0, height: 8, width: 8 };

// [name, call, the message expected]
const cases: [string, () => unknown, RegExp][] = [
  ['diffract: empty shape', () => binding.diffract(c(1), [], c(1), 1), /patch shape must be 3 dimensions/],
  ['diffract: negative shape', () => binding.diffract(c(1), [-1, 1, 1], c(1), 1), /patch shape\[0\] must be an integer from 0/],
  ['diffract: NaN shape', () => binding.diffract(c(1), [NaN, 1, 1], c(1), 1), /got NaN/],
  ['diffract: fractional shape', () => binding.diffract(c(1), [1.5, 1, 1], c(1), 1), /got 1\.5/],
  ['diffract: shape not an array', () => binding.diffract(c(1), 'x' as never, c(1), 1), /patch shape must be an array/],
  ['diffract: huge shape', () => binding.diffract(c(1), [2 ** 31, 2 ** 31, 1], c(1), 1), /more than 2\^32 elements/],
  ['diffract: wrong length', () => binding.diffract(new Float32Array(3), [1, 1, 1], c(1), 1), /patch has 3 elements, its shape needs 2/],
  ['diffract: non-square', () => binding.diffract(c(8), [1, 2, 4], c(16), 1), /ending in N, N/],
  ['diffract: probe of another size', () => binding.diffract(c(4), [1, 2, 2], c(9), 1), /probe has 18 elements, its shape needs 8/],
  ['diffract: detached patch', () => binding.diffract(detached(), [1, 2, 2], c(4), 1), /patch's buffer has been detached/],
  ['diffract: not a typed array', () => binding.diffract([1, 2] as never, [1, 1, 1], c(1), 1), /patch must be a Float32Array/],
  ['diffract: Float64Array', () => binding.diffract(new Float64Array(2) as never, [1, 1, 1], c(1), 1), /patch must be a Float32Array/],
  ['diffract: NaN threads', () => binding.diffract(c(1), [1, 1, 1], c(1), NaN), /threads must be an integer from 1 to 1024, got NaN/],
  ['diffract: negative threads', () => binding.diffract(c(1), [1, 1, 1], c(1), -2), /threads must be an integer/],
  ['poissonLossGradient: no measured', () => binding.poissonLossGradient(c(1), [1, 1, 1], c(1), undefined as never, 1), /measured must be a Float32Array/],
  ['extractPatches: 1-d object', () => binding.extractPatches(c(4), [4], new Float64Array(2), 2, 1), /object shape must be \[H, W\]/],
  ['extractPatches: odd positions', () => binding.extractPatches(c(16), [4, 4], new Float64Array(3), 2, 1), /\(x, y\) pairs/],
  ['extractPatches: NaN position', () => binding.extractPatches(c(16), [4, 4], new Float64Array([NaN, 0]), 2, 1), /positions must be finite/],
  ['extractPatches: n of 0', () => binding.extractPatches(c(16), [4, 4], new Float64Array(2), 0, 1), /n must be an integer from 1/],
  ['stitch: no arguments', () => (binding.stitch as unknown as () => void)(), /patches shape must be an array/],
  ['stitch: huge canvas', () => binding.stitch(c(1), [1, 1, 1], new Float64Array(2), new Float32Array(1), { ...canvas, width: 1e7 }, 1e-3, 1), /canvas\.width must be an integer from 1 to 1048576/],
  ['stitch: canvas over 2^28 pixels', () => binding.stitch(c(1), [1, 1, 1], new Float64Array(2), new Float32Array(1), { ...canvas, width: 1 << 20, height: 1 << 20 }, 1e-3, 1), /larger than 2\^28 pixels/],
  ['stitch: NaN origin', () => binding.stitch(c(1), [1, 1, 1], new Float64Array(2), new Float32Array(1), { ...canvas, originRow: NaN }, 1e-3, 1), /canvas\.originRow must be a finite number/],
  ['stitch: canvas missing', () => binding.stitch(c(1), [1, 1, 1], new Float64Array(2), new Float32Array(1), undefined as never, 1e-3, 1), /canvas must be an object/],
  ['stitch: Infinity position', () => binding.stitch(c(1), [1, 1, 1], new Float64Array([Infinity, 0]), new Float32Array(1), canvas, 1e-3, 1), /positions must be finite/],
  ['stitch: floor of 2', () => binding.stitch(c(1), [1, 1, 1], new Float64Array(2), new Float32Array(1), canvas, 2, 1), /floor must be a finite number from 0 to 1/],
  ['mergeGroup: far offsets', () => binding.mergeGroup(c(16), [1, 1, 4, 4], new Float32Array([1e9, 0]), 1), /more than 2N = 8/],
  ['mergeGroup: NaN offsets', () => binding.mergeGroup(c(16), [1, 1, 4, 4], new Float32Array([NaN, 0]), 1), /offsets must be finite/],
  ['Model: no config', () => new binding.Model(undefined as never), /model config must be an object, got undefined/],
  ['Model: N of 65', () => new binding.Model({ n: 65, channels: 1, filterScale: 1, ampActivation: 'silu', probeBig: true, sharedMembers: false, seed: 1 }), /N must be 64, 128 or 256/],
  ['Model: unknown activation', () => new binding.Model({ n: 64, channels: 1, filterScale: 1, ampActivation: 'tanh', probeBig: true, sharedMembers: false, seed: 1 }), /ampActivation must be one of silu, sigmoid, softplus, relu, got 'tanh'/],
  ['Model: negative seed', () => new binding.Model({ n: 64, channels: 1, filterScale: 1, ampActivation: 'silu', probeBig: true, sharedMembers: false, seed: -1 }), /seed must be an integer from 0/],
  ['Model: probeBig a string', () => new binding.Model({ n: 64, channels: 1, filterScale: 1, ampActivation: 'silu', probeBig: 'yes' as never, sharedMembers: false, seed: 1 }), /probeBig must be a boolean/],
  ['Model: sharedMembers absent', () => new binding.Model({ n: 64, channels: 4, filterScale: 1, ampActivation: 'silu', probeBig: true, seed: 1 } as never), /sharedMembers must be a boolean/],
  ['predict: index out of range', () => model().predict({ ...grouped({ groups: new Int32Array([5]) }), scale: 1, batchSize: 1, precision: 'fp32', keepPatches: true, threads: 1 }), /predict\.groups must hold pattern indices from 0 to 0/],
  ['predict: negative index', () => model().predict({ ...grouped({ groups: new Int32Array([-1]) }), scale: 1, batchSize: 1, precision: 'fp32', keepPatches: true, threads: 1 }), /pattern indices/],
  ['predict: NaN scale', () => model().predict({ ...grouped(), scale: NaN, batchSize: 1, precision: 'fp32', keepPatches: true, threads: 1 }), /scale must be a finite number/],
  ['predict: batch 0', () => model().predict({ ...grouped(), scale: 1, batchSize: 0, precision: 'fp32', keepPatches: true, threads: 1 }), /batchSize must be an integer from 1/],
  ['predict: unknown precision', () => model().predict({ ...grouped(), scale: 1, batchSize: 1, precision: 'fp16' as never, keepPatches: true, threads: 1 }), /precision must be one of fp32, bf16, got 'fp16'/],
  ['predict: nothing to return', () => model().predict({ ...grouped(), scale: 1, batchSize: 1, precision: 'fp32', keepPatches: false, threads: 1 }), /nothing to return/],
  ['train: unknown loss', () => model().train(trainArgs({ loss: 'l2' }) as never), /loss must be one of poisson, mae, got 'l2'/],
  ['train: unknown scheduler', () => model().train(trainArgs({ scheduler: 'linear' }) as never), /scheduler must be one of none, exponential, plateau, cosine, got 'linear'/],
  ['train: NaN learning rate', () => model().train(trainArgs({ learningRate: NaN }) as never), /learningRate must be a finite number/],
  ['train: NaN probe', () => model().train(trainArgs({ probe: new Float32Array(2 * 64 * 64).fill(NaN) }) as never), /probe must be finite/],
  ['train: progress not a function', () => model().train(trainArgs() as never, 5 as never), /onProgress must be a function/],
  ['train: diffraction too short', () => model().train(trainArgs({ train: grouped({ diffraction: new Float32Array(10) }) }) as never), /train\.diffraction has 10 elements/],
  ['train: bad resume state', () => model().train(trainArgs({ resume: { epoch: -1 } }) as never), /resume\.epoch must be an integer/],
  ['setParameters: not an array', () => model().setParameters('x' as never), /parameters must be an array/],
  ['setParameters: unknown name', () => model().setParameters([{ name: 'x', shape: [1], data: new Float32Array(1) }]), /unknown parameter 'x'/],
  ['setParameters: entry not an object', () => model().setParameters([3 as never]), /parameters\[0\] must be an object/],
  ['a disposed model', () => { const m = model(); m.dispose(); return m.getParameters(); }, /the model has been disposed/],
  ['ssim: too small', () => metrics.ssim(r(100), r(100), [10, 10], 1), /images shape must be \[H, W\] with 11 to/],
  ['ssim: NaN', () => metrics.ssim(r(144).fill(NaN), r(144), [12, 12], 1), /x must be finite/],
  ['ssim: zero range', () => metrics.ssim(r(144), r(144), [12, 12], 0), /dataRange must be a finite number/],
  ['frc: wrong length', () => metrics.frc(r(15), r(16), [4, 4]), /x has 15 elements, its shape needs 16/],
  ['frc: Float32Array', () => metrics.frc(new Float32Array(16) as never, r(16), [4, 4]), /x must be a Float64Array/],
  ['registerShift: 3-d shape', () => metrics.registerShift(r(8), r(8), [2, 2, 2], 1, 10), /images shape must be \[H, W\]/],
  ['registerShift: upsample 0', () => metrics.registerShift(r(16), r(16), [4, 4], 1, 0), /upsample must be an integer from 1 to 1000/],
  ['compareObjects: detached a', () => metrics.compareObjects(detached(), [2, 2], c(4), [2, 2], compareOptions()), /a's buffer has been detached/],
  ['compareObjects: box past b', () => metrics.compareObjects(c(1024), [32, 32], c(1024), [32, 32], compareOptions({ top: 8 })), /height must be an integer from 1 to 24/],
  ['compareObjects: box too small', () => metrics.compareObjects(c(1024), [32, 32], c(1024), [32, 32], compareOptions({ height: 8 })), /metrics need at least 16 x 16/],
  ['compareObjects: nothing covered', () => metrics.compareObjects(c(1024), [32, 32], c(1024).fill(1), [32, 32], compareOptions()), /the reconstruction covers only 0 of the 1024 pixels/],
  ['compareObjects: no options', () => metrics.compareObjects(c(4), [2, 2], c(4), [2, 2], undefined as never), /options must be an object/],
];

for (const [name, call, message] of cases) {
  test(`${name}: an Error, not a crash`, async (t) => {
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      t.true(error instanceof Error);
      t.regex((error as Error).message, message);
      return;
    }
    const error = await t.throwsAsync(Promise.resolve(result) as Promise<unknown>);
    t.regex(error!.message, message);
  });
}

test('the process survives every case (run in a fresh process: a terminate would show as exit 134)', async (t) => {
  t.timeout(120_000);
  const script = `
    import { addon, metricsAddon } from './lib/binding.ts';
    const { binding } = addon();
    const metrics = metricsAddon().binding;
    const calls = [
      () => binding.diffract(new Float32Array(2), [], new Float32Array(2), 1),
      () => binding.stitch(),
      () => new binding.Model({ n: 64, channels: 1, filterScale: 1, ampActivation: 'silu', probeBig: true, sharedMembers: false, seed: 1 }).predict({}),
      () => metrics.compareObjects(),
      () => metrics.compareObjects(new Float32Array(2048), [32, 32], new Float32Array(2048), [32, 32], { offsetRow: 0, offsetCol: 0, top: 0, left: 0, height: 8, width: 8, registration: true, maxShift: 8, upsample: 10, removeRamp: true }),
    ];
    let errors = 0;
    for (const call of calls) { try { await call(); } catch { errors++; } }
    console.log('errors', errors);`;
  const run = await runNode(['--import=tsx', '--input-type=module', '-e', script]);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /errors 5/);
});
