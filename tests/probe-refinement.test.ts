// Probe refinement inside PINN training (--probe_trainable): the fixture's probe given wrong
// (defocused and 20 % too bright, as a probe from another plane or another run would be), the
// network trained with the probe fixed and with it refined; refinement moves the probe towards the
// true one, keeps its power and does not lose the object (whether it reconstructs better than the
// probe kept depends on the machine's rounding: see the test). Gridsize 2:
// at gridsize 1 each pattern constrains only the product of object and probe, and the probe
// stays where it started (3 epochs: overlap 0.746 -> 0.734). The bundle keeps the refined probe.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel } from '../lib/bundle.js';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import { compareObjects } from '../lib/metrics.js';
import type { ComplexArray } from '../lib/ndarray.js';
import { defocusProbe, normalizeProbe, probeOverlap, scaleProbe } from '../lib/probe.js';
import { train } from '../lib/training.js';

let data: Dataset;
let wrong: Dataset;
let dir = '';
test.before(async () => {
  data = await loadDataset('fixtures/run1084_sim.npz');
  wrong = { ...data, probe: scaleProbe(await defocusProbe(data.probe, 5, { threads: 2 }), 1.2) };
  dir = await mkdtemp(join(tmpdir(), 'ptpinn-probe-'));
});
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

test('probeOverlap: 1 up to a global phase and scale, 0 for disjoint probes, 1/sqrt(2) by hand', (t) => {
  const probe = (...values: number[]): ComplexArray => ({ dtype: 'complex64', shape: [2, 2], data: Float32Array.from(values) });
  const a = probe(1, 2, -0.5, 0.25, 0, 1, 3, -1);
  // a x 2.5 e^{0.7 i}
  const [c, s] = [2.5 * Math.cos(0.7), 2.5 * Math.sin(0.7)];
  const b = probe(...Array.from({ length: 4 }, (_, k) => [a.data[2 * k] * c - a.data[2 * k + 1] * s, a.data[2 * k] * s + a.data[2 * k + 1] * c]).flat());
  t.true(Math.abs(probeOverlap(a, b) - 1) < 1e-6);
  t.is(probeOverlap(probe(1, 0, 0, 1, 0, 0, 0, 0), probe(0, 0, 0, 0, 2, 0, 0, -3)), 0);
  // <(1, 0), (1, 1)> = 1 over |a| |b| = sqrt(2)
  t.true(Math.abs(probeOverlap(probe(1, 0, 0, 0, 0, 0, 0, 0), probe(1, 0, 1, 0, 0, 0, 0, 0)) - Math.SQRT1_2) < 1e-7);
  t.throws(() => probeOverlap(a, { dtype: 'complex64', shape: [1, 1], data: Float32Array.of(1, 0) }), { message: /cannot be compared/ });
});

const power = (p: ComplexArray) => p.data.reduce((s, v) => s + v * v, 0);

test.serial('a wrong probe refined in training moves towards the true one, keeps its power and the object, and the bundle keeps it', async (t) => {
  t.timeout(900_000);
  const schedule = { nGroups: 512, maxEpochs: 5, batchSize: 16, learningRate: 1e-3 };
  const kept = await train(wrong, { model: { gridsize: 2 }, training: schedule }, { threads: 2 });
  const refined = await train(wrong, { model: { gridsize: 2 }, training: { ...schedule, probeTrainable: true } }, { threads: 2 });
  // kept: the bundle's probe is the normalised wrong probe, untouched
  t.deepEqual(kept.probe.data, normalizeProbe(wrong.probe).probe.data);
  const before = probeOverlap(wrong.probe, data.probe);
  const after = probeOverlap(refined.probe, data.probe);
  const [keptLoss, refinedLoss] = [kept.history!.epochLoss.at(-1)!, refined.history!.epochLoss.at(-1)!];
  const region = { top: 80, left: 80, bottom: 150, right: 150 };
  const score = async (m: typeof kept) => {
    const r = await m.reconstruct(data, { threads: 2 });
    return compareObjects(r.object, r.origin, data.objectGuess!, { region });
  };
  const [k, r] = [await score(kept), await score(refined)];
  // every figure first, so that a failure shows them all
  t.log(`overlap with the true probe: given ${before.toFixed(4)}, refined ${after.toFixed(4)}`);
  t.log(`last epoch's loss: probe kept ${keptLoss.toFixed(1)}, refined ${refinedLoss.toFixed(1)}`);
  t.log(`phase correlation: probe kept ${k.phase.correlation.toFixed(3)}, refined ${r.phase.correlation.toFixed(3)}; ` +
    `phase SSIM ${k.phase.ssim.toFixed(3)} -> ${r.phase.ssim.toFixed(3)}`);
  t.true(after > before, `refined ${after}, given ${before}`);
  // held at the normalised power (N/2)^2
  t.true(Math.abs(power(refined.probe) / 32 ** 2 - 1) < 1e-4, `power ${power(refined.probe)}`);
  // Not "better than kept": on one CPU (AVX-512) refined beat kept (0.894 against 0.836, loss
  // 7210 against 7238), on another (AVX2) it did not (0.919 against 0.929, loss 7199 against
  // 7191): five epochs on the fixture are one trajectory among many, and the probe moves by 0.008
  // of overlap. What holds on both is that refinement does not lose the object, as a probe stepped
  // too fast does (10 times the network's rate: phase correlation 0.20).
  t.true(r.phase.correlation > k.phase.correlation - 0.05, `refined ${r.phase.correlation}, kept ${k.phase.correlation}`);

  // the bundle holds the refined probe, bit for bit
  const path = join(dir, 'refined.ptpinn');
  await saveModel(refined, path);
  const loaded = await loadModel(path);
  t.deepEqual(loaded.probe.data, refined.probe.data);
  t.true(loaded.training!.probeTrainable);
});

// What the loss hardly moves, the overlaps pin down: a few ePIE iterations over the training
// patterns retrieve the probe before the network trains with it. (Trained 5 epochs with it the
// network gave phase correlation 0.945 here, against 0.836 with the wrong probe kept and 0.894
// refined in training; with ePIE's full probe step, before, 0.791. One epoch is what this test
// affords, so it asserts the retrieval, not the quality: the benchmark does that.)
test.serial('probeInit epie retrieves the probe from the overlaps; the bundle keeps it', async (t) => {
  t.timeout(600_000);
  const model = await train(wrong, { model: { gridsize: 2 }, training: { nGroups: 512, maxEpochs: 1, batchSize: 16, probeInit: 'epie' } }, { threads: 2 });
  const found = probeOverlap(model.probe, data.probe);
  t.log(`overlap with the true probe: given ${probeOverlap(wrong.probe, data.probe).toFixed(4)}, retrieved by 10 ePIE iterations ${found.toFixed(4)}`);
  t.true(found > 0.95, `overlap ${found}`);
  t.true(Math.abs(power(model.probe) / 32 ** 2 - 1) < 1e-4, `power ${power(model.probe)}`);
  const path = join(dir, 'retrieved.ptpinn');
  await saveModel(model, path);
  const loaded = await loadModel(path);
  t.deepEqual(loaded.probe.data, model.probe.data);
  t.is(loaded.training!.probeInit, 'epie');
});
