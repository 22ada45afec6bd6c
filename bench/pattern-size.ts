// N = 64 against N = 128: the network's memory per batch and the quality it reaches.
//
// Memory: each measurement is a fresh process (peak RSS from the kernel), an untrained network at
// N = 64 or 128, gridsize 1 or 2, inference (fp32 and bf16) and training (fp32) at batch 1 and 16;
// "per pattern" is (peak at 16 - peak at 1) / 15, what a batch adds beyond the fixed cost.
// Quality: a Siemens star (or Run1084's object) under a pinhole probe (the probe's size and the scan in the same units of
// object pixels at both N: the N = 128 probe is the N = 64 one padded, so each pattern sees the same
// beam sampled twice as finely in angle; with --sampling fine, the object, probe and scan are
// sampled at half the pixel size instead, so the patterns reach twice the angles), PtychoPINN
// gridsize 2 and ePIE 100 iterations at both N. The fine object is the coarse one with every pixel
// made 2 x 2, so it holds no detail finer than a coarse pixel: the mode tests the sampling, not a
// gain in resolution; DIR/N128 then holds the fine reconstruction, the scores its 2 x 2 binning.
// With --object run1084, Run1084's published object takes the star's place (the star's centre is
// a case the network fails at N = 64 already; Run1084's object under this probe is one it learns).
// Run: npx tsx bench/pattern-size.ts [--skip-memory] [--skip-quality] [--epochs 10] [--positions 400]
//   [--object star|run1084] [--sampling padded|fine] [--out DIR] (the network's reconstructions, as `infer` writes them, in DIR/N64, DIR/N128)
//   [--sizes 64,128] (the quality part's N) [--scheduler auto|none|exponential|plateau|cosine] [--seed S] (training's; default train's)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveTrainingConfig } from '../lib/config.js';
import { readRun1084 } from '../lib/fixture.js';
import { reconstructIterative } from '../lib/iterative.js';
import { compareObjects } from '../lib/metrics.js';
import type { ComplexArray } from '../lib/ndarray.js';
import { scannedRegion, writeReconstruction } from '../lib/outputs.js';
import { pinholeProbe } from '../lib/probe.js';
import { spiralScan } from '../lib/scan.js';
import { siemensStar, simulate } from '../lib/simulation.js';
import { train } from '../lib/training.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    'skip-memory': { type: 'boolean', default: false },
    'skip-quality': { type: 'boolean', default: false },
    epochs: { type: 'string', default: '10' },
    positions: { type: 'string', default: '400' },
    object: { type: 'string', default: 'star' },
    sampling: { type: 'string', default: 'padded' },
    out: { type: 'string' },
    sizes: { type: 'string', default: '64,128' },
    scheduler: { type: 'string' },
    seed: { type: 'string' },
    threads: { type: 'string' },
    child: { type: 'string' },
  },
});
const threads = values.threads ? Number(values.threads) : undefined;
if (!['star', 'run1084'].includes(values.object)) throw new Error(`--object must be star or run1084, got ${values.object}`);
if (!['padded', 'fine'].includes(values.sampling)) throw new Error(`--sampling must be padded or fine, got ${values.sampling}`);
// checked by the library's schema now rather than after the memory part
const { scheduler, seed } = resolveTrainingConfig({ scheduler: values.scheduler, seed: values.seed === undefined ? undefined : Number(values.seed) });
const sizes = values.sizes.split(',').map(Number);
if (!sizes.every((n) => n === 64 || n === 128)) throw new Error(`--sizes must list 64 and/or 128, got ${values.sizes}`);
const host = machine();

/** The child's job: one network, one mode, one batch; prints its peak RSS. */
async function child(spec: string) {
  const [mode, n, c, batch, precision] = spec.split(',');
  const N = Number(n) as 64 | 128;
  const gridsize = Math.sqrt(Number(c));
  const { PtychoPinnModel } = await import('../lib/model.js');
  const count = 64;
  const probe = await pinholeProbe(N, N / 8, N * 4);
  // random diffraction-like amplitudes: memory does not depend on the values
  const diffraction = new Float32Array(count * N * N).map((_, k) => Math.abs(Math.sin(k * 0.37)) * 2);
  const side = Math.ceil(Math.sqrt(count));
  const dataset = {
    source: 'synthetic', diffraction: { dtype: 'float32' as const, shape: [count, N, N], data: diffraction }, probe,
    xcoords: Float64Array.from({ length: count }, (_, k) => N / 2 + 4 + (k % side) * 4),
    ycoords: Float64Array.from({ length: count }, (_, k) => N / 2 + 4 + Math.floor(k / side) * 4),
  };
  const before = process.resourceUsage().maxRSS;
  if (mode === 'infer') {
    const model = new PtychoPinnModel({
      config: { N, gridsize, nFiltersScale: 2, ampActivation: 'silu', probeBig: true, objectBig: true, probeMask: false, memberNetwork: 'joint' },
      probe, intensityScale: 10, seed: 1,
    });
    await model.reconstruct(dataset, { inferenceBatchSize: Number(batch) * Number(c), precision: precision as 'fp32' | 'bf16', threads });
  } else {
    await train(dataset, { model: { gridsize }, training: { maxEpochs: 1, batchSize: Number(batch), nGroups: 32, precision: precision as 'fp32' | 'bf16' } }, { threads });
  }
  console.log(JSON.stringify({ before_kb: before, peak_kb: process.resourceUsage().maxRSS }));
}

function peakMb(spec: string): number {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', spec,
    ...(threads ? ['--threads', String(threads)] : [])], { encoding: 'utf8' });
  const line = out.trim().split('\n').at(-1)!;
  return JSON.parse(line).peak_kb / 1024;
}

async function memory() {
  for (const [mode, precision] of [['infer', 'fp32'], ['infer', 'bf16'], ['train', 'fp32']] as const) {
    for (const n of [64, 128]) {
      for (const c of [1, 4]) {
        const one = peakMb([mode, n, c, 1, precision].join());
        const sixteen = peakMb([mode, n, c, 16, precision].join());
        console.log(JSON.stringify({
          bench: 'pattern-size', part: 'memory', mode, precision, N: n, gridsize: Math.sqrt(c), ...host,
          peak_mb_batch1: Math.round(one), peak_mb_batch16: Math.round(sixteen),
          // groups at training (a batch counts groups) and at gridsize 2 (the child's inference batch is batch * C patterns)
          mb_per_batch_item: +((sixteen - one) / 15).toFixed(1), item: mode === 'train' || c > 1 ? 'group' : 'pattern',
        }));
      }
    }
  }
}

async function quality() {
  const truth = values.object === 'run1084' ? (await readRun1084()).object : siemensStar(320);
  const small = await pinholeProbe(64, 10, 150);
  const scan = spiralScan(truth.shape, 128, { count: Number(values.positions), step: 5 });
  const region = scannedRegion(scan.x, scan.y, 16);
  for (const n of sizes) {
    // padded: the same beam in a window twice as wide (zero padding), so the patterns sample the
    // same angles twice as finely. fine: the same beam, object and scan sampled at half the pixel
    // size, so the patterns reach twice the angles (a detector with twice the pixels across); the
    // reconstruction is binned 2 x 2 back to the truth's pixels to be scored
    const fine = n === 128 && values.sampling === 'fine';
    const probe: ComplexArray = n === 64 ? small : fine ? await pinholeProbe(n, 20, 600) : pad(small, n);
    const { dataset } = fine
      ? await simulate(replicate2(truth), probe, { x: scan.x.map((v) => 2 * v + 0.5), y: scan.y.map((v) => 2 * v + 0.5) }, { photons: 1e6, seed: 3, threads })
      : await simulate(truth, probe, scan, { photons: 1e6, seed: 3, threads });
    const score = async (object: ComplexArray, origin: [number, number]) => {
      const c = await compareObjects(...(fine ? bin2(object, origin) : [object, origin] as const), truth, { region });
      return { phase_ssim: +c.phase.ssim.toFixed(4), phase_corr: +c.phase.correlation.toFixed(4), amp_corr: +c.amplitude.correlation.toFixed(4),
        phase_frc_half_period_px: c.phase.frc.resolution === null ? '<=1' : +c.phase.frc.resolution.toFixed(2) };
    };
    const base = { bench: 'pattern-size', part: 'quality', object: values.object, N: n, sampling: n === 64 ? null : values.sampling, patterns: dataset.diffraction.shape[0], photons: 1e6, ...host };
    const started = performance.now();
    const model = await train(dataset, { model: { gridsize: 2 }, training: { maxEpochs: Number(values.epochs), batchSize: 16, nGroups: dataset.diffraction.shape[0], scheduler, seed } }, { threads });
    const trained = performance.now();
    const r = await model.reconstruct(dataset, { threads });
    if (values.out) await writeReconstruction(join(values.out, `N${n}`), r, dataset);
    console.log(JSON.stringify({ ...base, method: 'pinn', gridsize: 2, epochs: Number(values.epochs), scheduler: model.training?.scheduler, seed: model.training?.seed, ...await score(r.object, r.origin),
      train_s: +((trained - started) / 1000).toFixed(1), reconstruct_s: +((performance.now() - trained) / 1000).toFixed(2) }));
    model.dispose();
    const e = await reconstructIterative(dataset, { method: 'epie', iterations: 100, probeStart: 5, threads });
    console.log(JSON.stringify({ ...base, method: 'epie', iterations: 100, ...await score(e.object, e.origin), reconstruct_s: +e.seconds.toFixed(2) }));
  }
}

/** Every pixel as 2 x 2: binning 2 x 2 gives the object back exactly. */
function replicate2(o: ComplexArray): ComplexArray {
  const [h, w] = o.shape;
  const data = new Float32Array(8 * h * w);
  for (let i = 0; i < 2 * h; i++) {
    for (let j = 0; j < 2 * w; j++) {
      const from = 2 * ((i >> 1) * w + (j >> 1));
      data[2 * (i * 2 * w + j)] = o.data[from];
      data[2 * (i * 2 * w + j) + 1] = o.data[from + 1];
    }
  }
  return { dtype: 'complex64', shape: [2 * h, 2 * w], data };
}

/** The mean of each 2 x 2 block of fine pixels (2i, 2j)..(2i + 1, 2j + 1) in object coordinates. */
function bin2(o: ComplexArray, origin: [number, number]): [ComplexArray, [number, number]] {
  const [h, w] = o.shape;
  if (!Number.isInteger(origin[0]) || !Number.isInteger(origin[1])) throw new Error(`origin must be whole pixels, got ${origin}`);
  // start on an even object row and column, so the blocks are those replicate2 made
  const [r0, c0] = [origin[0] & 1, origin[1] & 1];
  const [bh, bw] = [(h - r0) >> 1, (w - c0) >> 1];
  const data = new Float32Array(2 * bh * bw);
  for (let i = 0; i < bh; i++) {
    for (let j = 0; j < bw; j++) {
      let [re, im, covered] = [0, 0, true];
      for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
        const from = 2 * ((r0 + 2 * i + a) * w + c0 + 2 * j + b);
        re += o.data[from] / 4;
        im += o.data[from + 1] / 4;
        covered &&= o.data[from] !== 0 || o.data[from + 1] !== 0;
      }
      // compareObjects reads exact zeros as not reconstructed: a block on the coverage's edge is one
      if (covered) [data[2 * (i * bw + j)], data[2 * (i * bw + j) + 1]] = [re, im];
    }
  }
  return [{ dtype: 'complex64', shape: [bh, bw], data }, [(origin[0] + r0) / 2, (origin[1] + c0) / 2]];
}

function pad(p: ComplexArray, n: number): ComplexArray {
  const m = p.shape[0];
  const off = (n - m) / 2;
  const data = new Float32Array(2 * n * n);
  for (let i = 0; i < m; i++) data.set(p.data.subarray(2 * i * m, 2 * (i + 1) * m), 2 * ((i + off) * n + off));
  return { dtype: 'complex64', shape: [n, n], data };
}

if (values.child) {
  await child(values.child);
} else {
  if (!values['skip-memory']) await memory();
  if (!values['skip-quality']) await quality();
}
