// Where the network fails on a Siemens star, taken apart: the star's centre (spokes converge,
// every patch has the same mean) or a window 226 px off it (spokes 79 px apart), under a pinhole
// probe or Run1084's, with the training options that were tried. 300 spiral positions 5 px apart,
// 1e6 photons, N = 64, gridsize 2. One JSON line per case: phase and amplitude correlation and
// phase SSIM over the scanned region, the epoch losses, seconds; with --out, the images too.
// With --object run1084, Run1084's published object takes the star's place (same scan and dose).
// Run: npx tsx bench/siemens-star.ts [--where centre|off-centre] [--probe pinhole|run1084] [--object star|run1084]
//   [--defocus 150] [--epochs 8] [--positions 300] [--input-norm none|pixel] [--learning-rate 1e-3]
//   [--loss poisson|mae] [--batch 16] [--gridsize 2] [--member-network joint|shared] [--threads T] [--out DIR]
import { parseArgs } from 'node:util';
import { type InputNormMode, type LossMode, MEMBER_NETWORKS, type MemberNetwork } from '../lib/config.js';
import { readRun1084 } from '../lib/fixture.js';
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
    where: { type: 'string', default: 'centre' },
    probe: { type: 'string', default: 'pinhole' },
    object: { type: 'string', default: 'star' },
    defocus: { type: 'string', default: '150' },
    epochs: { type: 'string', default: '8' },
    positions: { type: 'string', default: '300' },
    'input-norm': { type: 'string', default: 'none' },
    'learning-rate': { type: 'string', default: '1e-3' },
    loss: { type: 'string', default: 'poisson' },
    batch: { type: 'string', default: '16' },
    gridsize: { type: 'string', default: '2' },
    'member-network': { type: 'string', default: 'joint' },
    threads: { type: 'string' },
    out: { type: 'string' },
  },
});
const threads = values.threads ? Number(values.threads) : undefined;
for (const [name, allowed] of [['where', ['centre', 'off-centre']], ['probe', ['pinhole', 'run1084']], ['object', ['star', 'run1084']],
  ['member-network', MEMBER_NETWORKS]] as const) {
  const value = values[name];
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, got ${value}`);
}

/** The top-left size x size of an object. */
function corner(o: ComplexArray, size: number): ComplexArray {
  const w = o.shape[1];
  const data = new Float32Array(2 * size * size);
  for (let i = 0; i < size; i++) data.set(o.data.subarray(2 * i * w, 2 * (i * w + size)), 2 * i * size);
  return { dtype: 'complex64', shape: [size, size], data };
}

// off-centre: the corner of a star twice the size, whose centre then lies 226 px from the scan's
const run1084 = values.object === 'run1084' || values.probe === 'run1084' ? await readRun1084() : undefined;
const truth = values.object === 'run1084' ? run1084!.object : values.where === 'centre' ? siemensStar(320) : corner(siemensStar(640), 320);
const probe = values.probe === 'run1084' ? run1084!.probe : await pinholeProbe(64, 10, Number(values.defocus), { threads });
const positions = Number(values.positions);
const { dataset } = await simulate(truth, probe, spiralScan(truth.shape, 128, { count: positions, step: 5 }), { photons: 1e6, seed: 3, threads });
const started = performance.now();
const model = await train(dataset, {
  model: { gridsize: Number(values.gridsize), memberNetwork: values['member-network'] as MemberNetwork },
  training: {
    maxEpochs: Number(values.epochs), batchSize: Number(values.batch), nGroups: positions, learningRate: Number(values['learning-rate']),
    lossMode: values.loss as LossMode, inputNorm: values['input-norm'] as InputNormMode,
  },
}, { threads });
const r = await model.reconstruct(dataset, { threads });
const c = await compareObjects(r.object, r.origin, truth, { region: scannedRegion(dataset.xcoords, dataset.ycoords, 16) });
console.log(JSON.stringify({
  bench: 'siemens-star', object: values.object, where: values.object === 'star' ? values.where : null, probe: values.probe, defocus: values.probe === 'pinhole' ? Number(values.defocus) : null,
  positions, epochs: Number(values.epochs), gridsize: Number(values.gridsize), member_network: values['member-network'], batch: Number(values.batch), learning_rate: Number(values['learning-rate']),
  loss: values.loss, input_norm: values['input-norm'], ...machine(),
  phase_corr: +c.phase.correlation.toFixed(4), amp_corr: +c.amplitude.correlation.toFixed(4), phase_ssim: +c.phase.ssim.toFixed(4),
  epoch_loss: model.history?.epochLoss.map((v) => +v.toPrecision(5)), seconds: +((performance.now() - started) / 1000).toFixed(1),
}));
if (values.out) await writeReconstruction(values.out, r, dataset);
model.dispose();
