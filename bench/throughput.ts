// Training and inference throughput of the network at N = 64, f = 2, gridsize 1 on this machine,
// against the plain-PyTorch figures of SPEC section 11 (2 threads, same network; published, not
// measured here). Run: npx tsx bench/throughput.ts [threads]
import { availableParallelism } from 'node:os';
import { loadDataset } from '../lib/dataset.js';
import { train } from '../lib/training.js';

const threads = Number(process.argv[2] ?? availableParallelism());
const PYTORCH = { train_batch4: [19, 26], train_batch16: [27, 29], infer_batch64: [40, 72] };
const GFLOP_TRAIN = 4.81;
const GFLOP_INFER = 1.6;

const data = await loadDataset('fixtures/run1084_sim.npz');
for (const batchSize of [4, 16]) {
  const model = await train(data, { model: { gridsize: 1 }, training: { nGroups: 128, maxEpochs: 2, batchSize } }, { threads });
  // over both epochs, first-batch warm-up included
  const perSecond = (model.history!.batchLoss.length * batchSize) / model.history!.seconds;
  const peer = batchSize === 4 ? PYTORCH.train_batch4 : PYTORCH.train_batch16;
  console.log(JSON.stringify({
    bench: `train.batch${batchSize}`, threads, groups_per_s: +perSecond.toFixed(1), gflop_per_s: +(perSecond * GFLOP_TRAIN).toFixed(0),
    pytorch_groups_per_s: peer, ratio_vs_pytorch: +(perSecond / ((peer[0] + peer[1]) / 2)).toFixed(2),
  }));
  if (batchSize === 16) {
    await model.reconstruct(data, { nImages: 64, threads }); // warm-up
    const started = performance.now();
    await model.reconstruct(data, { threads, inferenceBatchSize: 64 });
    const patterns = data.diffraction.shape[0] / ((performance.now() - started) / 1000);
    console.log(JSON.stringify({
      bench: 'infer.batch64', threads, patterns_per_s: +patterns.toFixed(1), gflop_per_s: +(patterns * GFLOP_INFER).toFixed(0),
      pytorch_patterns_per_s: PYTORCH.infer_batch64, ratio_vs_pytorch: +(patterns / ((PYTORCH.infer_batch64[0] + PYTORCH.infer_batch64[1]) / 2)).toFixed(2),
    }));
  }
}
