// Train PtychoPINN on the bundled fixture, save the model, load it back and reconstruct, from
// Node: `node examples/train-and-reconstruct.mjs [epochs]` (after `npm install`). Prints the
// losses, the reconstruction's size and its phase against the fixture's ground truth.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareObjects, loadDataset, loadModel, saveModel, train } from 'ptychopinn';

const epochs = Number(process.argv[2] ?? 3);
const data = await loadDataset(fileURLToPath(new URL('../fixtures/run1084_sim.npz', import.meta.url)));
const model = await train(data, { model: { gridsize: 2 }, training: { maxEpochs: epochs, nGroups: 128, learningRate: 1e-3 } }, {
  onProgress: (p) => p.epochEnd && console.log(`epoch ${p.epoch}/${p.epochs}: loss ${p.epochLoss.toFixed(1)}`),
});
const dir = await mkdtemp(join(tmpdir(), 'ptychopinn-example-'));
try {
  const path = join(dir, 'model.ptpinn');
  await saveModel(model, path);
  const loaded = await loadModel(path);
  const recon = await loaded.reconstruct(data, { onProgress: ({ done, total }) => done === total && console.log(`reconstructed ${total} groups`) });
  console.log(`object ${recon.object.shape.join(' x ')} at origin ${recon.origin.join(', ')}, network in ${recon.precision}`);
  const { phase } = await compareObjects(recon.object, recon.origin, data.objectGuess);
  console.log(JSON.stringify({ epochs, phaseCorrelation: +phase.correlation.toFixed(3), phaseSsim: +phase.ssim.toFixed(3) }));
  loaded.dispose();
  model.dispose();
} finally {
  await rm(dir, { recursive: true, force: true });
}
