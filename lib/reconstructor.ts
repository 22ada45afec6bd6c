// A trainable reconstructor with the lifecycle of ptychodus' TrainableReconstructor: ingest
// training data, train, save or open a model, reconstruct, clear the training data.
import { loadModel, saveModel } from './bundle.js';
import type { ModelConfig, TrainingConfig } from './config.js';
import { type Dataset, type LoadOptions, loadDataset, patternSize } from './dataset.js';
import type { PtychoPinnModel, ReconstructOptions, Reconstruction, TrainingHistory } from './model.js';
import { type TrainOptions, train } from './training.js';
import { ArgumentError, StateError } from './errors.js';
import { type IterativeOptions, type IterativeReconstruction, reconstructIterative } from './iterative.js';

export interface ReconstructorOptions {
  model?: Partial<Omit<ModelConfig, 'N'>>;
  training?: Partial<TrainingConfig>;
  /** LibTorch threads of every call (default: all cores). */
  threads?: number;
}

export class Reconstructor {
  private buffer: Dataset[] = [];
  private current?: PtychoPinnModel;

  constructor(private readonly options: ReconstructorOptions = {}) {}

  /** The model trained or opened last. */
  get model(): PtychoPinnModel | undefined {
    return this.current;
  }

  /** Patterns waiting to be trained on. */
  get trainingPatterns(): number {
    return this.buffer.reduce((n, d) => n + d.diffraction.shape[0], 0);
  }

  /** Adds a dataset (or an NPZ file) to the training data. All must share N and the probe. */
  async ingestTrainingData(data: Dataset | string, options: LoadOptions = {}): Promise<void> {
    const dataset = typeof data === 'string' ? await loadDataset(data, options) : data;
    const first = this.buffer[0];
    if (first) {
      if (patternSize(dataset) !== patternSize(first)) {
        throw new ArgumentError(`${dataset.source}: patterns are ${patternSize(dataset)} pixels, the training data so far ${patternSize(first)}`);
      }
      if (!dataset.probe.data.every((v, i) => v === first.probe.data[i])) {
        throw new ArgumentError(`${dataset.source}: its probe differs from ${first.source}'s; train on datasets that share a probe`);
      }
    }
    this.buffer.push(dataset);
  }

  clearTrainingData(): void {
    this.buffer = [];
  }

  /** Trains a new model on everything ingested; the model stays in the reconstructor. */
  async train(options: Omit<TrainOptions, 'threads'> = {}): Promise<TrainingHistory> {
    if (this.buffer.length === 0) throw new StateError('no training data: call ingestTrainingData first');
    this.current = await train(merge(this.buffer), { model: this.options.model, training: this.options.training },
      { ...options, threads: this.options.threads });
    return this.current.history!;
  }

  async saveModel(path: string): Promise<void> {
    if (!this.current) throw new StateError('no model to save: train or open one first');
    await saveModel(this.current, path);
  }

  async openModel(path: string): Promise<PtychoPinnModel> {
    this.current = await loadModel(path);
    return this.current;
  }

  async reconstruct(data: Dataset | string, options: ReconstructOptions & LoadOptions = {}): Promise<Reconstruction> {
    if (!this.current) throw new StateError('no model: train or open one first');
    const { intensities, sizes, onWarning, ...reconstruct } = options;
    const dataset = typeof data === 'string' ? await loadDataset(data, { intensities, sizes, onWarning }) : data;
    return this.current.reconstruct(dataset, { threads: this.options.threads, ...reconstruct });
  }

  /** The iterative baseline (ePIE, rPIE with probe refinement) on the same data; needs no model. */
  async reconstructIterative(data: Dataset | string, options: IterativeOptions & LoadOptions = {}): Promise<IterativeReconstruction> {
    const { intensities, sizes, onWarning, ...iterative } = options;
    const dataset = typeof data === 'string' ? await loadDataset(data, { intensities, sizes, onWarning }) : data;
    return reconstructIterative(dataset, { threads: this.options.threads, ...iterative });
  }
}

/**
 * One dataset of several scans. Each scan's positions move far to the right of the previous
 * ones, so grouping never puts patterns of two scans in one group.
 */
function merge(datasets: Dataset[]): Dataset {
  if (datasets.length === 1) return datasets[0];
  const n = patternSize(datasets[0]);
  const count = datasets.reduce((s, d) => s + d.diffraction.shape[0], 0);
  const diffraction = new Float32Array(count * n * n);
  const xcoords = new Float64Array(count);
  const ycoords = new Float64Array(count);
  let at = 0;
  let shift = 0;
  for (const d of datasets) {
    const k = d.diffraction.shape[0];
    diffraction.set(d.diffraction.data, at * n * n);
    ycoords.set(d.ycoords, at);
    let max = -Infinity;
    let min = Infinity;
    for (const x of d.xcoords) { max = Math.max(max, x); min = Math.min(min, x); }
    for (let i = 0; i < k; i++) xcoords[at + i] = d.xcoords[i] - min + shift;
    shift += max - min + 100 * n;
    at += k;
  }
  return {
    source: datasets.map((d) => d.source).join(' + '),
    diffraction: { dtype: 'float32', shape: [count, n, n], data: diffraction },
    probe: datasets[0].probe, xcoords, ycoords,
  };
}
