// `ptychopinn train`: the reference's flags and defaults (SPEC section 9).
import { type Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { saveModel } from '../bundle.js';
import type { AmpActivation, LossMode, Scheduler } from '../config.js';
import { loadDataset } from '../dataset.js';
import type { PtychoPinnModel } from '../model.js';
import { type Tracker, mlflowRoot, startCsvLog, startMlflowRun } from '../tracking.js';
import { TrainingError, train } from '../training.js';
import { writeJson } from '../outputs.js';
import { UsageError, checkDevice, integer, outputFolder, positiveNumber, seconds } from './common.js';
import { Reporter } from './reporter.js';

interface TrainFlags {
  train_data_file: string;
  test_data_file?: string;
  output_dir: string;
  max_epochs: number;
  n_images: number;
  gridsize: number;
  batch_size: number;
  device?: string;
  accelerator?: string;
  logger: 'mlflow' | 'csv' | 'none';
  disable_mlflow?: boolean;
  loss_mode: LossMode;
  learning_rate: number;
  scheduler: Scheduler;
  early_stop_patience: number;
  deterministic: boolean;
  num_workers?: number;
  quiet?: boolean;
  seed: number;
  threads?: number;
  neighbor_count?: number;
  oversample?: boolean;
  probe_mask?: boolean;
  n_filters_scale: number;
  amp_activation: AmpActivation;
  probe_big: boolean;
  object_big: boolean;
  intensities?: boolean;
  resume?: string;
}

export function registerTrain(program: Command): void {
  program.command('train')
    .description('train a model on measured (or simulated) diffraction; writes model.ptpinn, history.json, train.log')
    .requiredOption('--train_data_file <file>', 'training dataset (.npz, SPEC section 2)')
    .option('--test_data_file <file>', 'validation dataset, grouped the same way')
    .requiredOption('--output_dir <dir>', 'folder for the model, history, log and tracking')
    .option('--max_epochs <n>', 'epochs (alias --epochs)', integer('max_epochs'), 100)
    .option('--n_images <n>', 'groups to train on (alias --n_groups)', integer('n_images'), 512)
    .option('--gridsize <g>', 'patterns per group side: C = g^2', integer('gridsize'), 2)
    .option('--batch_size <n>', 'groups per batch', integer('batch_size'), 16)
    .addOption(new Option('--device <device>', 'where to compute').choices(['cpu', 'cuda']))
    .addOption(new Option('--accelerator <accelerator>', 'where to compute (auto = cpu here)').choices(['auto', 'cpu', 'cuda', 'gpu']))
    .addOption(new Option('--logger <logger>', 'experiment tracking').choices(['mlflow', 'csv', 'none']).default('mlflow'))
    .option('--disable_mlflow', 'no tracking (= --logger none)')
    .addOption(new Option('--loss_mode <mode>', 'loss (alias --torch-loss-mode)').choices(['poisson', 'mae']).default('poisson'))
    .option('--learning_rate <rate>', 'Adam learning rate', positiveNumber('learning_rate'), 1e-3)
    .addOption(new Option('--scheduler <scheduler>', 'learning-rate schedule').choices(['none', 'exponential', 'plateau']).default('none'))
    .option('--early_stop_patience <n>', 'epochs without improvement before stopping', integer('early_stop_patience'), 100)
    .option('--deterministic', 'same seed and threads give the same numbers (always true here)', true)
    .option('--no-deterministic', 'accepted; results are deterministic regardless')
    .option('--num_workers <n>', 'accepted; data loading is in-process', integer('num_workers', 0))
    .option('--quiet', 'print nothing but errors')
    .option('--seed <n>', 'seed of grouping, shuffling and weights', integer('seed', 0), 42)
    .option('--threads <n>', 'LibTorch threads (default: all cores)', integer('threads'))
    .option('--neighbor_count <k>', 'K nearest neighbours a group is drawn from (default max(4, C))', integer('neighbor_count'))
    .option('--oversample', 'allow more groups than scan positions')
    .option('--probe_mask', 'soft circular mask on the probe')
    .option('--n_filters_scale <f>', 'network width factor', integer('n_filters_scale'), 2)
    .addOption(new Option('--amp_activation <name>', 'amplitude activation').choices(['silu', 'sigmoid', 'softplus', 'relu']).default('silu'))
    .option('--no-probe_big', 'decoders fill only the centre N/2 x N/2 of a patch')
    .option('--no-object_big', 'at gridsize > 1, no merge of a group\'s patches')
    .option('--intensities', 'the file holds photon counts, not amplitudes')
    .option('--resume <model>', 'continue from a model (not supported yet)')
    .action(async (flags: TrainFlags) => runTrain(flags));
}

async function runTrain(flags: TrainFlags): Promise<void> {
  if (flags.resume) throw new UsageError('--resume is not supported yet');
  checkDevice(flags.device, flags.accelerator);
  const logger = flags.disable_mlflow ? 'none' : flags.logger;
  const dir = await outputFolder(resolve(flags.output_dir));
  // a server URI is refused before any work
  const trackingRoot = logger === 'mlflow' ? mlflowRoot(dir) : undefined;
  const report = new Reporter({ quiet: flags.quiet });
  report.logTo(join(dir, 'train.log'));
  const started = performance.now();

  const onWarning = (w: string) => report.warn(w);
  const data = await loadDataset(flags.train_data_file, { intensities: flags.intensities, onWarning });
  const validation = flags.test_data_file
    ? await loadDataset(flags.test_data_file, { intensities: flags.intensities, onWarning })
    : undefined;
  report.info(`training data: ${flags.train_data_file} (${data.diffraction.shape[0]} patterns, N = ${data.diffraction.shape[1]})`);

  const model = { gridsize: flags.gridsize, nFiltersScale: flags.n_filters_scale, ampActivation: flags.amp_activation,
    probeBig: flags.probe_big, objectBig: flags.object_big, probeMask: flags.probe_mask ?? false };
  const training = { maxEpochs: flags.max_epochs, batchSize: flags.batch_size, learningRate: flags.learning_rate,
    nGroups: flags.n_images, neighborCount: flags.neighbor_count, oversample: flags.oversample ?? false,
    seed: flags.seed, lossMode: flags.loss_mode, scheduler: flags.scheduler, earlyStopPatience: flags.early_stop_patience };

  let tracker: Tracker | undefined;
  if (trackingRoot) tracker = await startMlflowRun(trackingRoot, `train ${new Date().toISOString()}`);
  else if (logger === 'csv') tracker = await startCsvLog(dir);
  await tracker?.logParams({ train_data_file: flags.train_data_file, test_data_file: flags.test_data_file,
    ...model, ...training, threads: flags.threads });

  // metric lines are appended in order, and all of them before the run is closed
  // a failed metric line must not kill the run (an unhandled rejection would): warn once
  let logged = Promise.resolve();
  let metricsFailed = false;
  const logMetric = (key: string, value: number, step: number) => {
    logged = logged.then(() => tracker?.logMetric(key, value, step)).catch((error: Error) => {
      if (!metricsFailed) report.warn(`tracking: cannot log ${key}: ${error.message}`);
      metricsFailed = true;
    });
  };

  // Ctrl-C stops after the current batch and keeps what was trained
  const controller = new AbortController();
  const interrupt = () => {
    report.warn('interrupted: stopping after this batch and saving the model trained so far');
    controller.abort();
  };
  process.once('SIGINT', interrupt);
  let trained: PtychoPinnModel;
  try {
    trained = await train(data, { model, training }, {
      threads: flags.threads, validation, signal: controller.signal, onWarning,
      onProgress: (p) => {
        report.progress(p);
        if (p.epochEnd) {
          logMetric('train_loss', p.epochLoss!, p.epoch);
          if (p.validationLoss != null) logMetric('val_loss', p.validationLoss, p.epoch);
        }
      },
    });
  } catch (error) {
    report.stopBar();
    await logged;
    await tracker?.end('FAILED');
    if (!(error instanceof TrainingError)) throw error;
    // keep the weights for inspection, but never in place of a good model.ptpinn
    const kept = join(dir, 'model.nonfinite.ptpinn');
    await saveModel(error.model, kept);
    await writeJson(join(dir, 'history.nonfinite.json'), error.model.history);
    report.info(`the weights when training stopped are in ${kept}`);
    throw error;
  } finally {
    process.off('SIGINT', interrupt);
  }
  const trainedAt = performance.now();
  const bundle = join(dir, 'model.ptpinn');
  await saveModel(trained, bundle);
  await writeJson(join(dir, 'history.json'), trained.history);
  await logged;
  await tracker?.logArtifact(bundle);
  await tracker?.end(trained.history!.stop === 'cancelled' ? 'KILLED' : 'FINISHED');
  const h = trained.history!;
  report.info(`trained ${h.epochLoss.length} epoch(s) in ${seconds(trainedAt - started)} (${h.stop}); final loss ${h.epochLoss.at(-1)?.toPrecision(6) ?? '-'}`);
  report.info(`model: ${bundle}`);
  report.info(`history: ${join(dir, 'history.json')}`);
  if (tracker) report.info(`tracking: ${tracker.location}`);
}
