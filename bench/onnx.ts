// ONNX Runtime against LibTorch on this machine, in the same run: the network alone (patterns/s
// at batch 1, 16 and 64, one thread and all), ONNX Runtime's session options one at a time, and
// the whole reconstruction of the fixture. One JSON line per measure.
// Run: npm run build:ts && npx tsx bench/onnx.ts [--quick]
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { saveModel } from '../lib/bundle.js';
import { loadDataset } from '../lib/dataset.js';
import { PtychoPinnModel, nativeOf } from '../lib/model.js';
import { type OnnxLoadOptions, OnnxModel } from '../lib/onnx/model.js';
import { resolveModelConfig } from '../lib/config.js';
import { machine } from './machine.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const here = dirname(fileURLToPath(import.meta.url));
const all = availableParallelism();
const host = machine();
const ortVersion = (await import('onnxruntime-node')).env.versions.node ?? 'unknown';
const GFLOP = 1.6; // SPEC section 5: one N = 64, f = 2, gridsize 1 forward pass

const fixture = await loadDataset(resolve(here, '..', 'fixtures', 'run1084_sim.npz'));
const n = 64;
const config = resolveModelConfig({ N: n, gridsize: 1 });
const model = new PtychoPinnModel({ config, probe: fixture.probe, intensityScale: 30, seed: 1 });
const dir = await mkdtemp(join(tmpdir(), 'ptpinn-bench-onnx-'));
const bundle = join(dir, 'model.ptpinn');
await saveModel(model, bundle, { withOnnx: true });

/** Patterns per second of `run(batch)` over at least `seconds`, after one warm-up call. */
async function rate(batch: number, seconds: number, run: (batch: number) => Promise<unknown>): Promise<number> {
  await run(batch);
  let patterns = 0;
  const start = performance.now();
  do {
    await run(batch);
    patterns += batch;
  } while (performance.now() - start < seconds * 1000);
  return patterns / ((performance.now() - start) / 1000);
}

const inputs = new Map<number, Float32Array>();
const input = (batch: number) => {
  if (!inputs.has(batch)) inputs.set(batch, fixture.diffraction.data.slice(0, batch * n * n));
  return inputs.get(batch)!;
};
const torch = (precision: 'fp32' | 'bf16', threads: number) => (batch: number) => nativeOf(model).predict({
  diffraction: input(batch), nPatterns: batch, groups: Int32Array.from({ length: batch }, (_, i) => i), nGroups: batch,
  scale: model.intensityScale, batchSize: batch, precision, threads, keepPatches: true,
});
const onnxRun = (onnx: OnnxModel, threads: number) => (batch: number) => onnx.predict(input(batch), batch, { threads });

const seconds = values.quick ? 1.5 : 4;
const round = (v: number) => +v.toFixed(1);
const onnx = await OnnxModel.load(bundle);
for (const threads of [...new Set([1, all])]) {
  for (const batch of [1, 16, 64]) {
    const fp32 = await rate(batch, seconds, torch('fp32', threads));
    const bf16 = await rate(batch, seconds, torch('bf16', threads));
    const viaOnnx = await rate(batch, seconds, onnxRun(onnx, threads));
    console.log(JSON.stringify({
      bench: 'onnx_network', ...host, onnxruntime: ortVersion, threads, batch,
      onnx_per_s: round(viaOnnx), libtorch_fp32_per_s: round(fp32), libtorch_bf16_per_s: round(bf16),
      onnx_gflop_per_s: Math.round(viaOnnx * GFLOP), ratio_onnx_vs_fp32: +(viaOnnx / fp32).toFixed(2), ratio_onnx_vs_bf16: +(viaOnnx / bf16).toFixed(2),
    }));
  }
}
await onnx.release();

// Session options, one change from our defaults at a time (batch 16, every core).
const variants: [string, OnnxLoadOptions][] = [
  ['defaults (optimisation all, arena on, memory pattern on, sequential)', {}],
  ['graph optimisation disabled', { graphOptimization: 'disabled' }],
  ['graph optimisation basic', { graphOptimization: 'basic' }],
  ['graph optimisation extended', { graphOptimization: 'extended' }],
  ['memory pattern off', { sessionOptions: { enableMemPattern: false } }],
  ['memory arena off', { sessionOptions: { enableCpuMemArena: false } }],
  ['parallel execution, 2 inter-op threads', { sessionOptions: { executionMode: 'parallel', interOpNumThreads: 2 } }],
];
for (const [name, options] of variants) {
  const variant = await OnnxModel.load(bundle, options);
  const patterns = await rate(16, seconds, onnxRun(variant, all));
  console.log(JSON.stringify({ bench: 'onnx_session_option', ...host, onnxruntime: ortVersion, threads: all, batch: 16, option: name, onnx_per_s: round(patterns) }));
  await variant.release();
}

// The whole reconstruction of the fixture (grouping, network, stitch), each backend at its default.
for (const [backend, make] of [
  ['libtorch', async () => model],
  ['onnx', async () => OnnxModel.load(bundle)],
] as const) {
  const m = await make();
  await m.reconstruct(fixture, { nImages: 16, threads: all });
  const start = performance.now();
  const result = await m.reconstruct(fixture, { threads: all });
  const s = (performance.now() - start) / 1000;
  console.log(JSON.stringify({
    bench: 'onnx_reconstruct', ...host, backend, threads: all, patterns: result.patterns.length, precision: result.precision,
    seconds: +s.toFixed(2), patterns_per_s: round(result.patterns.length / s),
  }));
  if (m instanceof OnnxModel) await m.release();
}
model.dispose();
await rm(dir, { recursive: true, force: true });
