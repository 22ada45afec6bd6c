// Reconstruction quality against the ground truth: the Run1084 probe and object, simulated at
// several doses on the published scan (1087 positions) and on a denser spiral, reconstructed by
// PtychoPINN (gridsize 1 and 2) and by the built-in ePIE and rPIE. One JSON line per method, scan,
// dose and gridsize. Run: npx tsx bench/quality.ts [--epochs 20] [--doses 1e4,1e6,1e9]
//   [--scans run1084,spiral] [--methods pinn1,pinn2,epie,rpie] [--iterations 100] [--threads T]
//   [--train-precision auto|fp32|bf16] (the network's precision in training; the default is train's)
//   [--seed S] (the training seed; default train's, 42)
//   [--save DIR]   (each reconstruction's files, as `infer` writes them, in DIR/METHOD-SCAN-DOSE/, with the
//                  trained network's bundle as model.ptpinn beside them)
//   methods pinn1w / pinn2w: trained on a wrong probe (defocusProbe(probe, 5), 20 % too
//   bright) kept fixed; pinn1r / pinn2r: the same wrong probe refined in training (probeTrainable);
//   pinn1e / pinn2e: the probe retrieved from the wrong one by ePIE before training (probeInit epie)
//   [--wrong-probe defocus|astigmatism] (the wrong probe: the defocused one above, or the true probe
//   times exp(1.5 i ((x^2 - y^2) / (N/4)^2)), a phase aberration)
//   [--probe-init-iterations K] (ePIE iterations of pinn1e / pinn2e; the default is train's)
//   [--member-network joint|shared] (the network at gridsize > 1; the default is train's)
//   [--n-filters-scale F] (the network's width factor; the default is train's, 2)
//   [--learning-rate R] [--scheduler auto|none|exponential|plateau|cosine] (training's; the defaults are train's)
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type MemberNetwork, type Precision, resolveModelConfig, resolveTrainingConfig, type Scheduler } from '../lib/config.js';
import type { Dataset } from '../lib/dataset.js';
import { saveModel } from '../lib/bundle.js';
import { readRun1084 } from '../lib/fixture.js';
import { reconstructIterative } from '../lib/iterative.js';
import { type Comparison, compareObjects } from '../lib/metrics.js';
import { type ReconstructionLike, scannedRegion, writeReconstruction } from '../lib/outputs.js';
import { spiralScan } from '../lib/scan.js';
import { simulate } from '../lib/simulation.js';
import { astigmatizeProbe, defocusProbe, probeOverlap, scaleProbe } from '../lib/probe.js';
import { train } from '../lib/training.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '20' },
    doses: { type: 'string', default: '1e4,1e6,1e9' },
    scans: { type: 'string', default: 'run1084,spiral' },
    methods: { type: 'string', default: 'pinn1,pinn2,epie,rpie' },
    iterations: { type: 'string', default: '100' },
    threads: { type: 'string' },
    'train-precision': { type: 'string' },
    seed: { type: 'string' },
    save: { type: 'string' },
    'wrong-probe': { type: 'string', default: 'defocus' },
    'probe-init-iterations': { type: 'string' },
    'member-network': { type: 'string' },
    'n-filters-scale': { type: 'string' },
    'learning-rate': { type: 'string' },
    scheduler: { type: 'string' },
  },
});
if (!['defocus', 'astigmatism'].includes(values['wrong-probe'])) {
  throw new Error(`--wrong-probe must be defocus or astigmatism, got ${values['wrong-probe']}`);
}
const epochs = Number(values.epochs);
const iterations = Number(values.iterations);
const threads = values.threads ? Number(values.threads) : undefined;
const host = machine();
const source = await readRun1084();
const N = source.probe.shape[0];
// The flags' share of every run's model and training configuration (an absent flag is undefined and
// takes train's default), checked by the library's schemas now rather than after minutes of simulation.
const number = (v: string | undefined) => (v ? Number(v) : undefined);
const modelFlags = { memberNetwork: values['member-network'] as MemberNetwork | undefined, nFiltersScale: number(values['n-filters-scale']) };
const trainingFlags = {
  precision: values['train-precision'] as Precision | undefined, seed: number(values.seed), learningRate: number(values['learning-rate']),
  scheduler: values.scheduler as Scheduler | undefined, probeInitIterations: number(values['probe-init-iterations']),
};
resolveModelConfig({ ...modelFlags, N });
resolveTrainingConfig(trainingFlags);

function positions(scan: string): { x: Float64Array; y: Float64Array } {
  if (scan === 'run1084') return { x: source.x, y: source.y };
  // twice the published density over the same area
  return spiralScan(source.object.shape, N, { count: 2 * source.x.length, step: 2.3, margin: 1 });
}

function scores(c: Comparison) {
  const part = (s: Comparison['phase']) => ({
    ssim: +s.ssim.toFixed(4), psnr: s.psnr === null ? null : +s.psnr.toFixed(2), correlation: +s.correlation.toFixed(4),
    frc_half_period_px: s.frc.resolution === null ? '<=1' : +s.frc.resolution.toFixed(2),
  });
  return { phase: part(c.phase), amplitude: part(c.amplitude), complex_correlation: +c.complexCorrelation.toFixed(4), shift_px: c.shift };
}

async function save(name: string, r: ReconstructionLike, data: Dataset) {
  if (!values.save) return;
  await writeReconstruction(join(values.save, name), r, data, { threads });
}

async function score(object: Parameters<typeof compareObjects>[0], origin: [number, number], data: Dataset, x: Float64Array, y: Float64Array) {
  return scores(await compareObjects(object, origin, data.objectGuess!, { region: scannedRegion(x, y, N / 4) }));
}

for (const scan of values.scans.split(',')) {
  for (const dose of values.doses.split(',').map(Number)) {
    const { dataset } = await simulate(source.object, source.probe, positions(scan), { photons: dose, seed: 7, threads });
    const count = dataset.diffraction.shape[0];
    const base = { bench: 'quality', scan, patterns: count, photons: dose, ...host };
    for (const method of values.methods.split(',')) {
      if (method === 'epie' || method === 'rpie') {
        const r = await reconstructIterative(dataset, { method, iterations, probeStart: 5, threads });
        console.log(JSON.stringify({
          ...base, method, iterations, ...await score(r.object, r.origin, dataset, r.xcoords, r.ycoords),
          reconstruct_s: +r.seconds.toFixed(2), ms_per_pattern: +(1000 * r.seconds / count).toFixed(3),
        }));
        await save(`${method}-${scan}-${dose}`, r, dataset);
      } else {
        const gridsize = Number(method.replace(/^pinn(\d).*$/, '$1'));
        const wrongProbe = /[wre]$/.test(method);
        const probeTrainable = method.endsWith('r');
        const probeInit = method.endsWith('e') ? 'epie' as const : 'file' as const;
        const wrong = async () => values['wrong-probe'] === 'astigmatism'
          ? astigmatizeProbe(dataset.probe, 1.5)
          : scaleProbe(await defocusProbe(dataset.probe, 5, { threads }), 1.2);
        const given = wrongProbe ? { ...dataset, probe: await wrong() } : dataset;
        const started = performance.now();
        const model = await train(given, { model: { gridsize, ...modelFlags },
          training: { maxEpochs: epochs, batchSize: 16, nGroups: count, probeTrainable, probeInit, ...trainingFlags } }, { threads });
        const trained = performance.now();
        const r = await model.reconstruct(given, { threads });
        const seconds = (performance.now() - trained) / 1000;
        // the default precision against fp32, for the tolerance `auto` is held to
        let fp32 = null;
        if (r.precision !== 'fp32') {
          const q = await model.reconstruct(given, { threads, precision: 'fp32' });
          fp32 = (await score(q.object, q.origin, dataset, q.xcoords, q.ycoords)).phase;
        }
        console.log(JSON.stringify({
          ...base, method: 'pinn', gridsize, member_network: model.config.memberNetwork, n_filters_scale: model.config.nFiltersScale, epochs,
          learning_rate: model.training?.learningRate, scheduler: model.training?.scheduler, train_precision: model.training?.precision, seed: model.training?.seed, precision: r.precision, probe: wrongProbe ? (probeTrainable ? 'wrong, refined' : probeInit === 'epie' ? 'wrong, retrieved by ePIE' : 'wrong, fixed') : 'true',
          ...(wrongProbe ? { wrong_probe: values['wrong-probe'] } : {}), ...(probeInit === 'epie' ? { probe_init_iterations: model.training?.probeInitIterations } : {}),
          ...(wrongProbe ? { probe_overlap: +probeOverlap(model.probe, dataset.probe).toFixed(4) } : {}), ...await score(r.object, r.origin, dataset, r.xcoords, r.ycoords),
          ...(fp32 ? { fp32_phase: fp32 } : {}),
          train_s: +((trained - started) / 1000).toFixed(1), reconstruct_s: +seconds.toFixed(2), ms_per_pattern: +(1000 * seconds / count).toFixed(3),
        }));
        await save(`${method}-${scan}-${dose}`, r, dataset);
        if (values.save) await saveModel(model, join(values.save, `${method}-${scan}-${dose}`, 'model.ptpinn'));
        model.dispose();
      }
    }
  }
}
