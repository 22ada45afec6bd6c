// Speed of the network, the stitching and the whole `infer` on this machine, with plain PyTorch
// (bench/reference/ptychopinn_twin.py: the same network, loss and training step) measured in the
// same run when a Python with torch exists. One JSON line per measure; a ratio appears only
// beside a PyTorch figure of this run. Achieved GFLOP/s are read against the machine's measured
// FMA peak (bench/peak.ts), not a constant.
// Run: npm run build:ts && [PYTHON=/path/to/python-with-torch] npx tsx bench/throughput.ts [--threads T]
//   [--quick]   (fewer measures: the defaults below take about 6 minutes on 2 cores, 10,000-pattern infers included)
//   [--n-filters-scale F]   (the network's width for every measure, ours and the twin's; default 2)
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveModelConfig } from '../lib/config.js';
import { type Dataset, loadDataset, saveDataset } from '../lib/dataset.js';
import { readRun1084 } from '../lib/fixture.js';
import { nativeOf } from '../lib/model.js';
import { Rng } from '../lib/random.js';
import { simulate } from '../lib/simulation.js';
import { stitch } from '../lib/stitching.js';
import { train } from '../lib/training.js';
import { machine } from './machine.js';
import { measurePeak } from './peak.js';
import { runMeasured } from './process.js';

const { values } = parseArgs({ options: { threads: { type: 'string' }, quick: { type: 'boolean', default: false }, 'n-filters-scale': { type: 'string', default: '2' } } });
const threads = Number(values.threads ?? availableParallelism());
const quick = values.quick;
const filterScale = resolveModelConfig({ N: 64, nFiltersScale: Number(values['n-filters-scale']) }).nFiltersScale;

// Multiply-adds of the 3 x 3 convolutions at N = 64, gridsize 1, width f (SPEC section 5), times 2.
function convolutionFlops(f: number): number {
  const conv = (cin: number, cout: number, side: number) => 2 * 9 * cin * cout * side * side;
  const encoder = conv(1, 32 * f, 64) + conv(32 * f, 32 * f, 64) + conv(32 * f, 64 * f, 32) + conv(64 * f, 64 * f, 32) + conv(64 * f, 128 * f, 16) + conv(128 * f, 128 * f, 16);
  const outer = (32 * f) / 8;
  const decoder = conv(128 * f, 64 * f, 8) + conv(64 * f, 64 * f, 8) + conv(64 * f, 32 * f, 16) + conv(32 * f, 32 * f, 16)
    + conv(32 * f - outer, 1, 32) + conv(outer, 32 * f, 32) + conv(32 * f, 32 * f, 32) + conv(32 * f, 1, 64);
  return encoder + 2 * decoder;
}
// SPEC section 5's figures at f = 2 (N = 64, gridsize 1), scaled by the convolutions' count at f
const widthFactor = convolutionFlops(filterScale) / convolutionFlops(2);
const GFLOP = { train: 4.81 * widthFactor, infer: 1.6 * widthFactor };
const here = dirname(fileURLToPath(import.meta.url));
const host = { ...machine(), threads, n_filters_scale: filterScale };
const peak = measurePeak(threads);
console.log(JSON.stringify({ bench: 'peak', ...host, ...peak }));

const fraction = (gflops: number, precision: string) => {
  const top = precision === 'bf16' ? peak.bf16_gflops : peak.fp32_gflops;
  return top ? +(gflops / top).toFixed(2) : null;
};

// A Python that imports torch: $PYTHON, else python3, else Debian's.
function findTorchPython(): { python: string; torch: string } | null {
  for (const python of [process.env.PYTHON, 'python3', '/usr/bin/python3']) {
    if (!python) continue;
    try {
      // the twin needs numpy too, which torch wheels do not pull in
      const torch = execFileSync(python, ['-c', 'import numpy, torch; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      return { python, torch };
    } catch { /* next candidate */ }
  }
  return null;
}
const py = findTorchPython();
if (!py) console.log(JSON.stringify({ bench: 'pytorch', available: false, note: 'no Python with torch (set PYTHON): our figures only, no ratios' }));

interface TwinResult { samples_per_s: number; torch: string; peak_rss_mb: number }
function twin(args: string[]): TwinResult | null {
  if (!py) return null;
  try {
    // its stderr is dropped: torch 2.x warns once a batch that NNPACK does not know this CPU
    const out = execFileSync(py.python, [join(here, 'reference', 'ptychopinn_twin.py'), '--threads', String(threads), ...args],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return JSON.parse(out.trim().split('\n').pop()!) as TwinResult;
  } catch (error) {
    console.log(JSON.stringify({ bench: 'pytorch', error: (error as Error).message.split('\n')[0], args }));
    return null;
  }
}

// `peer`: the twin as plain PyTorch code is usually written (NCHW); `tuned`: with channels-last
// weights and activations, the layout our training and inference use except with LibTorch 1.x on a
// CPU without AVX-512 (`ptychopinn info` prints it).
function report(bench: string, precision: string, batch: number, rate: number, unit: 'samples' | 'patterns', gflopEach: number,
  peer: TwinResult | null, tuned: TwinResult | null = null) {
  const gflops = rate * gflopEach;
  console.log(JSON.stringify({
    bench, ...host, precision, batch, [`${unit}_per_s`]: +rate.toFixed(1), gflop_per_s: +gflops.toFixed(0),
    of_peak: fraction(gflops, precision),
    ...(peer ? { pytorch: py!.torch, pytorch_per_s: +peer.samples_per_s.toFixed(1), ratio_vs_pytorch: +(rate / peer.samples_per_s).toFixed(2) } : {}),
    ...(tuned ? { pytorch_channels_last_per_s: +tuned.samples_per_s.toFixed(1), ratio_vs_pytorch_channels_last: +(rate / tuned.samples_per_s).toFixed(2) } : {}),
  }));
}

const fixture = await loadDataset(resolve(here, '..', 'fixtures', 'run1084_sim.npz'));

// Training: the rate of the second epoch (warm), from the loop's own clock.
const trainCases: [number, 'fp32' | 'bf16'][] = quick ? [[16, 'fp32']] : [[4, 'fp32'], [16, 'fp32'], [16, 'bf16']];
for (const [batchSize, precision] of trainCases) {
  let rate = 0;
  const model = await train(fixture, { model: { gridsize: 1, nFiltersScale: filterScale }, training: { nGroups: batchSize * 16, maxEpochs: 2, batchSize, precision } }, {
    threads, onProgress: (p) => { if (p.epoch === 2) rate = p.samplesPerSecond; },
  });
  model.dispose();
  const twinArgs = ['--mode', 'train', '--filter-scale', String(filterScale), '--batch', String(batchSize), '--steps', '16', '--warmup', '3', ...(precision === 'bf16' ? ['--bf16'] : [])];
  report('train', precision, batchSize, rate, 'samples', GFLOP.train, twin(twinArgs), batchSize === 16 ? twin([...twinArgs, '--channels-last']) : null);
}

// Inference: the network alone (patches kept, nothing stitched), then the stitching alone. Our
// figure is the whole native call (gathering and scaling the batch, the complex patches copied
// out); the twin's is the forward pass over batches already in memory: the ratio leans its way.
const model = await train(fixture, { model: { gridsize: 1, nFiltersScale: filterScale }, training: { nGroups: 32, maxEpochs: 1, batchSize: 16 } }, { threads });
const count = fixture.diffraction.shape[0];
const all = Int32Array.from({ length: count }, (_, i) => i);
const inferCases: [number, 'fp32' | 'bf16'][] = quick ? [[16, 'fp32']] : [[1, 'fp32'], [16, 'fp32'], [64, 'fp32'], [16, 'bf16']];
let patches: Float32Array | undefined;
for (const [batchSize, precision] of inferCases) {
  const predict = () => nativeOf(model).predict({
    diffraction: fixture.diffraction.data, nPatterns: count, groups: all, nGroups: count, scale: model.intensityScale,
    batchSize, precision, threads, keepPatches: true,
  });
  await predict(); // warm-up
  const started = performance.now();
  patches = (await predict()).patches!.data;
  const rate = count / ((performance.now() - started) / 1000);
  const twinArgs = ['--mode', 'infer', '--filter-scale', String(filterScale), '--batch', String(batchSize), '--patterns', String(count), ...(precision === 'bf16' ? ['--bf16'] : [])];
  report('infer.network', precision, batchSize, rate, 'patterns', GFLOP.infer, twin(twinArgs), twin([...twinArgs, '--channels-last']));
}
{
  const n = fixture.diffraction.shape[1];
  const started = performance.now();
  await stitch({ dtype: 'complex64', shape: [count, n, n], data: patches! }, fixture.xcoords, fixture.ycoords, { threads });
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ bench: 'infer.stitch', ...host, patterns: count, seconds: +seconds.toFixed(3), patterns_per_s: +(count / seconds).toFixed(0) }));
}
model.dispose();

// The whole `ptychopinn infer` as a user runs it (fresh process: addon load, files, stitching,
// images, metrics) on the 1087 simulated Run1084 positions, with peak memory.
const dir = await mkdtemp(join(tmpdir(), 'ptpinn-throughput-'));
try {
  const source = await readRun1084();
  const { dataset } = await simulate(source.object, source.probe, { x: source.x, y: source.y }, { photons: 1e6, seed: 7, threads });
  const data = join(dir, 'run1084_1087.npz');
  await saveDataset(data, dataset as Dataset);
  const cli = resolve(here, '..', 'dist', 'lib', 'cli', 'bin.js');
  const run = (args: string[]) => runMeasured(process.execPath, [cli, ...args, '--threads', String(threads), '--quiet']);
  const modelDir = join(dir, 'model');
  await run(['train', '--train_data_file', data, '--output_dir', modelDir, '--max_epochs', '1', '--n_images', '32', '--gridsize', '1', '--n_filters_scale', String(filterScale), '--disable_mlflow']);
  for (const precision of quick ? ['fp32'] : ['fp32', 'bf16']) {
    const r = await run(['infer', '--model_path', modelDir, '--test_data', data, '--output_dir', join(dir, `infer-${precision}`), '--n_images', '1087', '--precision', precision]);
    console.log(JSON.stringify({ bench: 'infer.cli', ...host, precision, patterns: 1087, seconds: +r.seconds.toFixed(2), patterns_per_s: +(1087 / r.seconds).toFixed(1), peak_mb: Math.round(r.peakMb) }));
  }
  // Memory against the dataset's size: 10,000 positions drawn over the same scan area, stored as
  // np.savez stores (infer reads such a file's patterns chunk by chunk), at gridsize 1 and 2.
  if (!quick) {
    const rng = new Rng(11);
    const span = (v: Float64Array) => [Math.min(...v), Math.max(...v)];
    const [[x0, x1], [y0, y1]] = [span(source.x), span(source.y)];
    const many = { x: Float64Array.from({ length: 10_000 }, () => x0 + rng.next() * (x1 - x0)), y: Float64Array.from({ length: 10_000 }, () => y0 + rng.next() * (y1 - y0)) };
    const big = await simulate(source.object, source.probe, many, { photons: 1e6, seed: 8, threads });
    const data10k = join(dir, 'run1084_10000.npz');
    await saveDataset(data10k, big.dataset as Dataset);
    const model2 = join(dir, 'model2');
    await run(['train', '--train_data_file', data, '--output_dir', model2, '--max_epochs', '1', '--n_images', '32', '--gridsize', '2', '--n_filters_scale', String(filterScale), '--disable_mlflow']);
    for (const [gridsize, model] of [[1, modelDir], [2, model2]] as const) {
      const peaks: number[] = [];
      for (const [patterns, file] of [[1087, data], [10_000, data10k]] as const) {
        const r = await run(['infer', '--model_path', model, '--test_data', file, '--output_dir', join(dir, `scale-${gridsize}-${patterns}`), '--precision', 'bf16']);
        peaks.push(r.peakMb);
        console.log(JSON.stringify({ bench: 'infer.cli.size', ...host, gridsize, precision: 'bf16', patterns, seconds: +r.seconds.toFixed(2), peak_mb: Math.round(r.peakMb),
          ...(patterns === 10_000 ? { peak_growth_mb_per_1k_patterns: +((peaks[1] - peaks[0]) / 8.913).toFixed(1) } : {}) }));
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
