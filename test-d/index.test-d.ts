// Type tests of the published declarations (dist/lib/*.d.ts), run by `npm run check:types` (tsd):
// what API callers can write, and what the compiler must refuse them.
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd';
import {
  type Dataset, type NdArray, type Reconstruction, type TrainingConfig, type TrainingProgress, OnnxModel,
  PtychoPinnError, type PtychoPinnModel, loadDataset, loadModel, resolveTrainingConfig, train,
} from '../dist/lib/index.js';
import type { NativeBinding } from '../dist/lib/internal.js';

declare const dataset: Dataset;
declare const model: PtychoPinnModel;

expectType<Promise<Dataset>>(loadDataset('data.npz'));
expectType<Promise<PtychoPinnModel>>(train(dataset, { model: { gridsize: 2 }, training: { maxEpochs: 20, probeTrainable: true } }));
// configuration fields are typed: a string where a number belongs, or an unknown field, is refused
expectError(train(dataset, { training: { maxEpochs: '20' } }));
expectError(train(dataset, { training: { epochs: 20 } }));
expectError(train(dataset, { model: { N: 64 } }));
train(dataset, {}, {
  onProgress: (p) => expectType<TrainingProgress>(p),
  signal: new AbortController().signal,
});
expectType<Promise<PtychoPinnModel>>(loadModel('model.ptpinn'));
expectType<Promise<Reconstruction>>(model.reconstruct(dataset, { precision: 'bf16', stitchWeights: 'probe' }));
expectError(model.reconstruct(dataset, { precision: 'fp16' }));
expectType<Promise<Uint8Array>>(model.toOnnx());
expectType<Promise<OnnxModel>>(OnnxModel.load('model.onnx'));
expectType<Promise<Reconstruction>>((await OnnxModel.load('model.ptpinn')).reconstruct(dataset));

// the typed array follows the dtype
declare const complex: NdArray<'complex64'>;
expectType<Float32Array>(complex.data);
declare const doubles: NdArray<'float64'>;
expectType<Float64Array>(doubles.data);

expectType<TrainingConfig>(resolveTrainingConfig({ maxEpochs: 3 }));
expectAssignable<Error>(new PtychoPinnError('ERR_PTYCHOPINN_ARGUMENT', 'x'));

// internals are not part of the public model type; they live under ptychopinn/internal
expectError(model.native);
expectNotAssignable<keyof PtychoPinnModel>('native');
expectType<string>(({} as NativeBinding).torchVersion);
