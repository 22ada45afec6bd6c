// A trainable reconstructor shaped like ptychodus' TrainableReconstructor (api/reconstructor.py of
// 2025): export training data from a reconstruct input, train on a folder of train_data.npz and
// test_data.npz, save and open models, reconstruct a ptychodus input with progress and
// cancellation. A Python adapter (examples/ptychodus_adapter.py) drives the same lifecycle through
// the command line's --json mode.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, saveModel } from './bundle.js';
import type { ModelConfig, TrainingConfig } from './config.js';
import { type Dataset, type LoadOptions, loadDataset, looksLikeCounts, saveDataset } from './dataset.js';
import type { PtychoPinnModel, ReconstructOptions, Reconstruction } from './model.js';
import { type LossValue, type ReconstructInput, type ReconstructOutput, type TrainOutput, datasetFromInput, objectOnInputGrid } from './ptychodus.js';
import { type TrainOptions, train } from './training.js';
import { StateError } from './errors.js';
import { type IterativeOptions, type IterativeReconstruction, reconstructIterative } from './iterative.js';

/** How a `Reconstructor` trains and reconstructs. */
export interface ReconstructorOptions {
  model?: Partial<Omit<ModelConfig, 'N'>>;
  training?: Partial<TrainingConfig>;
  /** LibTorch threads of every call (default: all cores). */
  threads?: number;
  /** Where training data is exported and looked for (getTrainingDataPath; default: the working folder). */
  trainingDataPath?: string;
}

/** Per-epoch losses as ptychodus' LossValue list (epochs from 1; epochs without a value left out). */
function lossValues(values: (number | null)[]): LossValue[] {
  return values.flatMap((value, i) => (value === null || !Number.isFinite(value) ? [] : [{ epoch: i + 1, value }]));
}

/**
 * A training file of `train(dataPath)`. `exportTrainingData` writes amplitudes, but the adapter's
 * earlier exports hold ptychodus' photon counts, with no key to say so: a file that looks like
 * counts (`looksLikeCounts`) is read as counts, with a warning.
 */
export async function readTrainingData(file: string, onWarning?: (message: string) => void): Promise<Dataset> {
  const data = await loadDataset(file);
  if (!(await looksLikeCounts(file, data))) return data;
  onWarning?.(`${file}: every value is a whole number, as photon counts are, not amplitudes: read as counts (square-rooted), ` +
    'as the ptychodus adapter exported them before it wrote amplitudes');
  return loadDataset(file, { intensities: true });
}

/** The files `train(dataPath)` reads, as ptychodus' PtychoPINN reconstructor names them. */
export const TRAIN_FILE = 'train_data.npz';
/** The optional validation data file `train` reads beside `TRAIN_FILE`. */
export const TEST_FILE = 'test_data.npz';

/** PtychoPINN as a ptychodus TrainableReconstructor: export training data, train, save and open models, reconstruct ptychodus' inputs. */
export class Reconstructor {
  private current?: PtychoPinnModel;
  private goal = 0;

  constructor(private readonly options: ReconstructorOptions = {}) {}

  /** The name ptychodus lists. */
  getName(): string {
    return 'PtychoPINN';
  }

  /** Groups the last reconstruction went through (its progress counts up to this); 0 before any. */
  getProgressGoal(): number {
    return this.goal;
  }

  /** The file dialog filter of model files. */
  getModelFileFilter(): string {
    return 'PtychoPINN Model (*.ptpinn)';
  }

  /** The file dialog filter of training data files. */
  getTrainingDataFileFilter(): string {
    return 'NumPy Zipped Archive (*.npz)';
  }

  /** Where training data goes by default. */
  getTrainingDataPath(): string {
    return this.options.trainingDataPath ?? process.cwd();
  }

  /** The model trained or opened last. */
  get model(): PtychoPinnModel | undefined {
    return this.current;
  }

  /**
   * Writes ptychodus' input as a dataset of this package (an NPZ `train` and `infer` read):
   * amplitudes, the probe, positions in object pixels and the starting object, which stays an
   * initial guess, never ground truth. Name it train_data.npz or test_data.npz in a folder for
   * `train(folder)`.
   */
  async exportTrainingData(path: string, input: ReconstructInput): Promise<void> {
    await saveDataset(path, datasetFromInput(input));
  }

  /**
   * Trains a new model on `dataPath`/train_data.npz, validated on `dataPath`/test_data.npz when it
   * exists; the model stays in the reconstructor. Returns the losses per epoch.
   */
  async train(dataPath: string = this.getTrainingDataPath(), options: Omit<TrainOptions, 'threads' | 'validation'> = {}): Promise<TrainOutput> {
    const trainFile = join(dataPath, TRAIN_FILE);
    if (!existsSync(trainFile)) throw new StateError(`no training data: ${trainFile} does not exist (exportTrainingData writes it)`);
    const data = await readTrainingData(trainFile, options.onWarning);
    const testFile = join(dataPath, TEST_FILE);
    const validation = existsSync(testFile) ? await readTrainingData(testFile, options.onWarning) : undefined;
    this.current = await train(data, { model: this.options.model, training: this.options.training },
      { ...options, validation, threads: this.options.threads });
    const history = this.current.history!;
    return { trainingLoss: lossValues(history.epochLoss), validationLoss: lossValues(history.validationLoss), result: 0 };
  }

  /** Saves the current model as a bundle. */
  async saveModel(path: string): Promise<void> {
    if (!this.current) throw new StateError('no model to save: train or open one first');
    await saveModel(this.current, path);
  }

  /** Opens a bundle as the current model. */
  async openModel(path: string): Promise<PtychoPinnModel> {
    this.current = await loadModel(path);
    return this.current;
  }

  /**
   * ptychodus' reconstruct: the object of its input on the input's own grid (unscanned pixels keep
   * the input's values), with `onProgress` after every batch and `signal` to stop.
   */
  async reconstruct(input: ReconstructInput, options: Pick<ReconstructOptions, 'onProgress' | 'signal' | 'inferenceBatchSize' | 'precision'> = {}): Promise<ReconstructOutput> {
    const model = this.requireModel();
    const dataset = datasetFromInput(input);
    let done = 0;
    const recon = await model.reconstruct(dataset, {
      ...options, threads: this.options.threads,
      onProgress: (p) => {
        this.goal = p.total;
        done = p.done;
        options.onProgress?.(p);
      },
    });
    const losses = lossValues(model.history?.epochLoss ?? []);
    return { object: objectOnInputGrid(recon.object, recon.origin, input), objectGeometry: { ...input.objectGeometry }, losses, progress: done, result: 0 };
  }

  /** A dataset of this package (or its NPZ file) reconstructed with the model. */
  async reconstructDataset(data: Dataset | string, options: ReconstructOptions & LoadOptions = {}): Promise<Reconstruction> {
    const model = this.requireModel();
    const { intensities, sizes, onWarning, ...reconstruct } = options;
    const dataset = typeof data === 'string' ? await loadDataset(data, { intensities, sizes, onWarning }) : data;
    return model.reconstruct(dataset, { threads: this.options.threads, ...reconstruct });
  }

  /** The iterative baseline (ePIE, rPIE with probe refinement) on the same data; needs no model. */
  async reconstructIterative(data: Dataset | string, options: IterativeOptions & LoadOptions = {}): Promise<IterativeReconstruction> {
    const { intensities, sizes, onWarning, ...iterative } = options;
    const dataset = typeof data === 'string' ? await loadDataset(data, { intensities, sizes, onWarning }) : data;
    return reconstructIterative(dataset, { threads: this.options.threads, ...iterative });
  }

  private requireModel(): PtychoPinnModel {
    if (!this.current) throw new StateError('no model: train or open one first');
    return this.current;
  }
}
