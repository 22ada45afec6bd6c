// Physics refinement after the network (`infer --refine K`) against ePIE from scratch, in the same
// run: the Run1084 probe and object simulated on the published scan, a PtychoPINN trained on it
// (or loaded with --model), then the network's reconstruction refined by K ePIE iterations, and
// ePIE alone at several iteration counts. Each line: quality against the truth (phase and
// amplitude SSIM, correlation, FRC half-period) and seconds of reconstruction (training excluded,
// it is paid once per instrument setting; the network's inference included in "pinn+K").
// Run: npx tsx bench/refine.ts [--model M.ptpinn | --epochs 20 --gridsize 2 [--save-model M]]
//   [--dose 1e6] [--refine 0,5,10,20,50] [--epie 10,30,100,300] [--threads T] [--inference-groups cover,every] [--input-norm none|pixel]
import { parseArgs } from 'node:util';
import type { InferenceGrouping, InputNormMode } from '../lib/config.js';
import { loadModel, saveModel } from '../lib/bundle.js';
import type { PtychoPinnModel } from '../lib/model.js';
import { readRun1084 } from '../lib/fixture.js';
import { reconstructIterative, refineReconstruction } from '../lib/iterative.js';
import { type Comparison, compareObjects } from '../lib/metrics.js';
import type { ComplexArray } from '../lib/ndarray.js';
import { scannedRegion } from '../lib/outputs.js';
import { simulate } from '../lib/simulation.js';
import { train } from '../lib/training.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    'save-model': { type: 'string' },
    epochs: { type: 'string', default: '20' },
    gridsize: { type: 'string', default: '2' },
    dose: { type: 'string', default: '1e6' },
    refine: { type: 'string', default: '0,5,10,20,50' },
    epie: { type: 'string', default: '10,30,100,300' },
    threads: { type: 'string' },
    'inference-groups': { type: 'string', default: 'cover' },
    'input-norm': { type: 'string', default: 'none' },
  },
});
const threads = values.threads ? Number(values.threads) : undefined;
const list = (s: string) => s.split(',').filter(Boolean).map(Number);
const source = await readRun1084();
const N = source.probe.shape[0];
const dose = Number(values.dose);
const { dataset } = await simulate(source.object, source.probe, { x: source.x, y: source.y }, { photons: dose, seed: 7, threads });
const count = dataset.diffraction.shape[0];
const base = { bench: 'refine', scan: 'run1084', patterns: count, photons: dose, ...machine() };

async function score(object: ComplexArray, origin: [number, number], x: Float64Array, y: Float64Array) {
  const c: Comparison = await compareObjects(object, origin, dataset.objectGuess!, { region: scannedRegion(x, y, N / 4) });
  const part = (s: Comparison['phase']) => ({
    ssim: +s.ssim.toFixed(4), correlation: +s.correlation.toFixed(4),
    frc_half_period_px: s.frc.resolution === null ? '<=1' : +s.frc.resolution.toFixed(2),
  });
  return { phase: part(c.phase), amplitude: part(c.amplitude) };
}

let model: PtychoPinnModel;
let trainSeconds: number | null = null;
if (values.model) {
  model = await loadModel(values.model);
} else {
  const started = performance.now();
  model = await train(dataset, {
    model: { gridsize: Number(values.gridsize) },
    training: { maxEpochs: Number(values.epochs), batchSize: 16, nGroups: count, inputNorm: values['input-norm'] as InputNormMode },
  }, { threads });
  trainSeconds = +((performance.now() - started) / 1000).toFixed(1);
  if (values['save-model']) await saveModel(model, values['save-model']);
}

const lines: { method: string; seconds: number }[] = [];
const emit = (line: Record<string, unknown> & { method: string; seconds: number }) => {
  lines.push(line);
  console.log(JSON.stringify({ ...base, ...line }));
};

for (const grouping of values['inference-groups'].split(',') as InferenceGrouping[]) {
  for (const k of list(values.refine)) {
    const started = performance.now();
    const recon = await model.reconstruct(dataset, { threads, inferenceGroups: grouping });
    const common = { gridsize: model.config.gridsize, input_norm: model.training?.inputNorm ?? 'none', inference_groups: grouping, groups: recon.patterns.length / model.config.gridsize ** 2 };
    if (k === 0) {
      const seconds = (performance.now() - started) / 1000;
      emit({ method: 'pinn', iterations: 0, ...common, train_s: trainSeconds, seconds: +seconds.toFixed(2),
        ...await score(recon.object, recon.origin, recon.xcoords, recon.ycoords) });
      continue;
    }
    const refined = await refineReconstruction(dataset, recon, { method: 'epie', iterations: k, threads });
    const seconds = (performance.now() - started) / 1000;
    emit({ method: 'pinn+epie', iterations: k, ...common, seconds: +seconds.toFixed(2),
      ...await score(refined.object, refined.origin, refined.xcoords, refined.ycoords) });
  }
}
model.dispose();

for (const k of list(values.epie)) {
  const r = await reconstructIterative(dataset, { method: 'epie', iterations: k, probeStart: 5, threads });
  emit({ method: 'epie', iterations: k, seconds: +r.seconds.toFixed(2), ...await score(r.object, r.origin, r.xcoords, r.ycoords) });
}

// each refined run against the longest ePIE of this run: its share of ePIE's time
const longest = lines.filter((l) => l.method === 'epie').at(-1);
if (longest) {
  for (const l of lines.filter((x) => x.method !== 'epie')) {
    console.log(JSON.stringify({ ...base, summary: `${l.method} ${'iterations' in l ? l.iterations : ''} ${'inference_groups' in l ? l.inference_groups : ''}`.trim(),
      seconds: l.seconds, epie_seconds: longest.seconds, time_fraction: +(l.seconds / longest.seconds).toFixed(3) }));
  }
}
