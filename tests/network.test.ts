import test from 'ava';
import { addon } from '../lib/binding.js';
import { resolveModelConfig } from '../lib/config.js';
import { PtychoPinnModel } from '../lib/index.js';
import { nativeOf } from '../lib/internal.js';

// The reference's state_dict at N = 64, gridsize 1 (PtychoPINN's PyTorch backend, CBAM off as in
// SPEC section 5), less its 'autoencoder.' prefix: our parameters have the same names and shapes.
const REFERENCE_N64_G1: [string, number[]][] = [
  ['encoder.blocks.0.conv1.weight', [64, 1, 3, 3]],
  ['encoder.blocks.0.conv1.bias', [64]],
  ['encoder.blocks.0.conv2.weight', [64, 64, 3, 3]],
  ['encoder.blocks.0.conv2.bias', [64]],
  ['encoder.blocks.1.conv1.weight', [128, 64, 3, 3]],
  ['encoder.blocks.1.conv1.bias', [128]],
  ['encoder.blocks.1.conv2.weight', [128, 128, 3, 3]],
  ['encoder.blocks.1.conv2.bias', [128]],
  ['encoder.blocks.2.conv1.weight', [256, 128, 3, 3]],
  ['encoder.blocks.2.conv1.bias', [256]],
  ['encoder.blocks.2.conv2.weight', [256, 256, 3, 3]],
  ['encoder.blocks.2.conv2.bias', [256]],
  ['decoder_amp.blocks.0.conv1.weight', [128, 256, 3, 3]],
  ['decoder_amp.blocks.0.conv1.bias', [128]],
  ['decoder_amp.blocks.0.conv2.weight', [128, 128, 3, 3]],
  ['decoder_amp.blocks.0.conv2.bias', [128]],
  ['decoder_amp.blocks.1.conv1.weight', [64, 128, 3, 3]],
  ['decoder_amp.blocks.1.conv1.bias', [64]],
  ['decoder_amp.blocks.1.conv2.weight', [64, 64, 3, 3]],
  ['decoder_amp.blocks.1.conv2.bias', [64]],
  ['decoder_amp.amp.conv1.weight', [1, 56, 3, 3]],
  ['decoder_amp.amp.conv1.bias', [1]],
  ['decoder_amp.amp.conv_up_block.conv1.weight', [64, 8, 3, 3]],
  ['decoder_amp.amp.conv_up_block.conv1.bias', [64]],
  ['decoder_amp.amp.conv_up_block.conv2.weight', [64, 64, 3, 3]],
  ['decoder_amp.amp.conv_up_block.conv2.bias', [64]],
  ['decoder_amp.amp.conv2.weight', [1, 64, 3, 3]],
  ['decoder_amp.amp.conv2.bias', [1]],
  ['decoder_phase.blocks.0.conv1.weight', [128, 256, 3, 3]],
  ['decoder_phase.blocks.0.conv1.bias', [128]],
  ['decoder_phase.blocks.0.conv2.weight', [128, 128, 3, 3]],
  ['decoder_phase.blocks.0.conv2.bias', [128]],
  ['decoder_phase.blocks.1.conv1.weight', [64, 128, 3, 3]],
  ['decoder_phase.blocks.1.conv1.bias', [64]],
  ['decoder_phase.blocks.1.conv2.weight', [64, 64, 3, 3]],
  ['decoder_phase.blocks.1.conv2.bias', [64]],
  ['decoder_phase.phase.conv1.weight', [1, 56, 3, 3]],
  ['decoder_phase.phase.conv1.bias', [1]],
  ['decoder_phase.phase.conv_up_block.conv1.weight', [64, 8, 3, 3]],
  ['decoder_phase.phase.conv_up_block.conv1.bias', [64]],
  ['decoder_phase.phase.conv_up_block.conv2.weight', [64, 64, 3, 3]],
  ['decoder_phase.phase.conv_up_block.conv2.bias', [64]],
  ['decoder_phase.phase.conv2.weight', [1, 64, 3, 3]],
  ['decoder_phase.phase.conv2.bias', [1]],
];

const make = (n: number, channels: number, probeBig = true, sharedMembers = false) =>
  new (addon().binding.Model)({ n, channels, filterScale: 2, ampActivation: 'silu', probeBig, sharedMembers, seed: 1 });

test('parameter names and shapes equal the reference network at N = 64, gridsize 1', (t) => {
  t.timeout(120_000);
  const ours = make(64, 1).getParameters().map((p) => [p.name, p.shape]);
  t.deepEqual(ours, REFERENCE_N64_G1);
});

test('parameter counts match SPEC section 5 (C amplitude outputs at gridsize 2)', (t) => {
  t.timeout(120_000);
  t.is(make(64, 1).parameterCount, 2_336_308);
  // the reference's 2,341,282 plus our amplitude decoder's 3 more output channels: 3 x (56 + 64) x 9 + 3 x 2
  t.is(make(64, 4).parameterCount, 2_341_282 + 3 * (56 + 64) * 9 + 3 * 2);
  t.is(make(128, 1).parameterCount, 4_724_052);
  t.throws(() => make(96, 1), { message: /N must be 64, 128 or 256, got 96/ });
});

test('member_network shared: the gridsize-1 network run on each member, weight for weight', async (t) => {
  t.timeout(120_000);
  const n = 64;
  const single = make(n, 1);
  const shared = make(n, 4, true, true);
  // the same seed draws the same weights: the shared network has the single-pattern one's shapes
  const [a, b] = [shared.getParameters(), single.getParameters()];
  t.deepEqual(a.map((p) => [p.name, p.shape]), b.map((p) => [p.name, p.shape]));
  t.true(a.every((p, i) => p.data.every((v, k) => v === b[i].data[k])));
  t.is(shared.parameterCount, 2_336_308);
  const diffraction = Float32Array.from({ length: 8 * n * n }, (_, i) => ((i * 7919) % 31) / 31);
  const run = (model: typeof single, groups: number[], c: number) => model.predict({
    diffraction, nPatterns: 8, groups: Int32Array.from(groups), nGroups: groups.length / c, scale: 1, batchSize: 2, precision: 'fp32', keepPatches: true, threads: 2,
  });
  const order = [3, 0, 7, 5, 1, 2, 6, 4];
  const one = (await run(single, order, 1)).patches!;
  const four = (await run(shared, order, 4)).patches!;
  t.deepEqual(four.shape, [2, 4, n, n]);
  let worst = 0;
  for (let k = 0; k < one.data.length; k++) worst = Math.max(worst, Math.abs(one.data[k] - four.data[k]));
  t.true(worst < 1e-5, `largest difference ${worst}`);
  // a joint network of the same seed is another network: its first layer sees 4 channels
  t.notDeepEqual(make(n, 4).getParameters()[0].shape, shared.getParameters()[0].shape);
});

test('without probe_big the patch is zero outside its central N/2 x N/2', async (t) => {
  t.timeout(120_000);
  const n = 64;
  const model = make(n, 1, false);
  const diffraction = Float32Array.from({ length: 3 * n * n }, (_, i) => (i % 7) / 7);
  const out = (await model.predict({ diffraction, nPatterns: 3, groups: Int32Array.from([0, 1, 2]), nGroups: 3, scale: 1, batchSize: 2, precision: 'fp32', keepPatches: true, threads: 2 })).patches!;
  t.deepEqual(out.shape, [3, 1, n, n]);
  let outside = 0;
  let inside = 0;
  for (let k = 0; k < 3 * n * n; k++) {
    const [i, j] = [Math.floor(k / n) % n, k % n];
    const magnitude = Math.hypot(out.data[2 * k], out.data[2 * k + 1]);
    if (i >= n / 4 && i < (3 * n) / 4 && j >= n / 4 && j < (3 * n) / 4) inside += magnitude;
    else outside += magnitude;
  }
  t.is(outside, 0);
  t.true(inside > 0);
});

test('a model does not expose its network: only ptychopinn/internal reaches it', (t) => {
  const n = 64;
  const probe = { dtype: 'complex64' as const, shape: [n, n], data: new Float32Array(2 * n * n).fill(1) };
  const model = new PtychoPinnModel({ config: resolveModelConfig({ N: n }), probe, intensityScale: 1, seed: 1 });
  t.false('native' in model);
  t.false(Object.values(model).some((v) => v !== null && typeof v === 'object' && 'predict' in v));
  t.is(nativeOf(model).parameterCount, model.parameterCount);
  model.dispose();
  t.throws(() => nativeOf({} as never), { message: /not a PtychoPinnModel made by this package/ });
});
