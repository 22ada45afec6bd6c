// N = 64 against N = 128: the network's memory per batch and the quality it reaches.
//
// Memory: each measurement is a fresh process (peak RSS from the kernel), an untrained network at
// N = 64 or 128, gridsize 1 or 2, inference (fp32 and bf16) and training (fp32) at batch 1 and 16;
// "per pattern" is (peak at 16 - peak at 1) / 15, what a batch adds beyond the fixed cost.
// Quality: a Siemens star (or Run1084's object) under a pinhole probe (the probe's size and the scan in the same units of
// object pixels at both N: the N = 128 probe is the N = 64 one padded, so each pattern sees the same
// beam at twice the angular range), PtychoPINN gridsize 2 and ePIE 100 iterations at both N.
// With --object run1084, Run1084's published object takes the star's place (the star's centre is
// a case the network fails at N = 64 already; Run1084's object under this probe is one it learns).
// Run: npx tsx bench/pattern-size.ts [--skip-memory] [--skip-quality] [--epochs 10] [--positions 400]
//   [--object star|run1084] [--out DIR] (the network's reconstructions, as `infer` writes them, in DIR/N64, DIR/N128)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
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
    out: { type: 'string' },
    threads: { type: 'string' },
    child: { type: 'string' },
  },
});
const threads = values.threads ? Number(values.threads) : undefined;
if (!['star', 'run1084'].includes(values.object)) throw new Error(`--object must be star or run1084, got ${values.object}`);
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
          // groups at training (a batch counts groups), patterns at inference
          mb_per_batch_item: +((sixteen - one) / 15).toFixed(1), item: mode === 'train' ? 'group' : 'pattern',
        }));
      }
    }
  }
}

async function quality() {
  const truth = values.object === 'run1084' ? (await readRun1084()).object : siemensStar(320);
  const small = await pinholeProbe(64, 10, 150);
  for (const n of [64, 128]) {
    // the same beam in a window twice as wide (zero padding), so only the patterns' size differs
    const probe: ComplexArray = n === 64 ? small : pad(small, n);
    const { dataset } = await simulate(truth, probe, spiralScan(truth.shape, 128, { count: Number(values.positions), step: 5 }),
      { photons: 1e6, seed: 3, threads });
    const region = scannedRegion(dataset.xcoords, dataset.ycoords, 16);
    const score = async (object: ComplexArray, origin: [number, number]) => {
      const c = await compareObjects(object, origin, truth, { region });
      return { phase_ssim: +c.phase.ssim.toFixed(4), phase_corr: +c.phase.correlation.toFixed(4), amp_corr: +c.amplitude.correlation.toFixed(4),
        phase_frc_half_period_px: c.phase.frc.resolution === null ? '<=1' : +c.phase.frc.resolution.toFixed(2) };
    };
    const base = { bench: 'pattern-size', part: 'quality', object: values.object, N: n, patterns: dataset.diffraction.shape[0], photons: 1e6, ...host };
    const started = performance.now();
    const model = await train(dataset, { model: { gridsize: 2 }, training: { maxEpochs: Number(values.epochs), batchSize: 16, nGroups: dataset.diffraction.shape[0] } }, { threads });
    const trained = performance.now();
    const r = await model.reconstruct(dataset, { threads });
    if (values.out) await writeReconstruction(join(values.out, `N${n}`), r, dataset);
    console.log(JSON.stringify({ ...base, method: 'pinn', gridsize: 2, epochs: Number(values.epochs), ...await score(r.object, r.origin),
      train_s: +((trained - started) / 1000).toFixed(1), reconstruct_s: +((performance.now() - trained) / 1000).toFixed(2) }));
    model.dispose();
    const e = await reconstructIterative(dataset, { method: 'epie', iterations: 100, probeStart: 5, threads });
    console.log(JSON.stringify({ ...base, method: 'epie', iterations: 100, ...await score(e.object, e.origin), reconstruct_s: +e.seconds.toFixed(2) }));
  }
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
