// `ptychopinn train`: the reference's flags and defaults (SPEC section 9), interruption with
// SIGINT/SIGTERM, checkpoints and resumption.
import { type Command, Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadModel, readManifest, saveModel } from '../bundle.js';
import {
  AMP_ACTIVATIONS, type AmpActivation, LOSS_MODES, type LossMode, ModelConfigSchema, PRECISIONS, type Precision, SCHEDULERS, type Scheduler,
  ThreadsSchema, TrainingConfigSchema, defaultModelConfig, defaultTrainingConfig, flagOf,
  INPUT_NORMS,
  MEMBER_NETWORKS,
  PROBE_INITS,
} from '../config.js';
import { loadDataset, looksLikeCounts } from '../dataset.js';
import { AbortedError, InterruptedError } from '../errors.js';
import type { PtychoPinnModel } from '../model.js';
import { writeJson, writeLossPlot } from '../outputs.js';
import { type Tracker, fileStoreHint, mlflowTarget, startCsvLog, startMlflowRun } from '../tracking.js';
import { startMlflowServerRun } from '../tracking-server.js';
import { TrainingError, resolveAutoChoices, train } from '../training.js';
import { UsageError, checkDevice, integer, outputFolder, schemaValue, seconds } from './common.js';
import { JSON_HELP, Reporter } from './reporter.js';
import { signalReceived, stopGracefully } from './signals.js';

interface TrainFlags {
  json?: boolean;
  with_onnx?: boolean;
  train_data_file?: string;
  test_data_file?: string;
  output_dir: string;
  max_epochs?: number;
  n_images?: number;
  gridsize?: number;
  batch_size?: number;
  device?: string;
  accelerator?: string;
  logger: 'mlflow' | 'csv' | 'none';
  disable_mlflow?: boolean;
  loss_mode?: LossMode;
  learning_rate?: number;
  scheduler?: Scheduler;
  precision?: Precision;
  early_stop_patience?: number;
  deterministic: boolean;
  num_workers?: number;
  quiet?: boolean;
  seed?: number;
  threads?: number;
  neighbor_count?: number;
  oversample?: boolean;
  probe_mask?: boolean;
  member_network?: 'joint' | 'shared';
  probe_trainable?: boolean;
  probe_lr_scale?: number;
  probe_init?: 'file' | 'epie';
  input_norm?: 'none' | 'pixel';
  probe_init_iterations?: number;
  probe_start_epoch?: number;
  n_filters_scale?: number;
  amp_activation?: AmpActivation;
  probe_big: boolean;
  object_big: boolean;
  intensities?: boolean;
  checkpoint_every?: number;
  resume?: string;
}

const T = TrainingConfigSchema.shape;
const M = ModelConfigSchema.shape;
const d = defaultTrainingConfig;
const dm = defaultModelConfig;

export function registerTrain(program: Command): void {
  program.command('train')
    .description('train a model on measured (or simulated) diffraction; writes model.ptpinn, history.json, loss.png, train.log')
    .option('--train_data_file <file>', 'training dataset (.npz: diffraction, probeGuess, xcoords, ycoords)')
    .option('--test_data_file <file>', 'validation dataset, grouped the same way')
    .requiredOption('--output_dir <dir>', 'folder for the model, history, log and tracking')
    .option('--max_epochs <n>', `epochs (alias --epochs; default ${d.maxEpochs})`, schemaValue(T.maxEpochs, 'max_epochs'))
    .option('--n_images <n>', `groups to train on (alias --n_groups; default ${d.nGroups})`, schemaValue(T.nGroups, 'n_images'))
    .option('--gridsize <g>', `patterns per group side: C = g^2 (default ${dm.gridsize})`, schemaValue(M.gridsize, 'gridsize'))
    .option('--batch_size <n>', `groups per batch (default ${d.batchSize})`, schemaValue(T.batchSize, 'batch_size'))
    .addOption(new Option('--device <device>', 'where to compute').choices(['cpu', 'cuda']))
    .addOption(new Option('--accelerator <accelerator>', 'where to compute (auto = cpu here)').choices(['auto', 'cpu', 'cuda', 'gpu']))
    .addOption(new Option('--logger <logger>', 'experiment tracking').choices(['mlflow', 'csv', 'none']).default('mlflow'))
    .option('--disable_mlflow', 'no tracking (= --logger none)')
    .addOption(new Option('--loss_mode <mode>', `loss (alias --torch-loss-mode; default ${d.lossMode})`).choices(LOSS_MODES))
    .option('--learning_rate <rate>', `Adam learning rate (default ${d.learningRate})`, schemaValue(T.learningRate, 'learning_rate'))
    .addOption(new Option('--scheduler <scheduler>', `learning-rate schedule; auto is cosine for patterns of 128 x 128 or larger and none below (default ${d.scheduler})`).choices(SCHEDULERS))
    .addOption(new Option('--precision <precision>', `precision of the network's convolutions: bf16 trains 1.35-1.5 times as fast on CPUs with AVX512_BF16 (physics and loss stay fp32) at about 0.02 less phase SSIM; auto picks bf16 on such CPUs, fp32 elsewhere (default ${d.precision})`).choices(PRECISIONS))
    .option('--early_stop_patience <n>', `epochs without improvement before stopping; the best epoch's weights are kept (default ${d.earlyStopPatience})`, schemaValue(T.earlyStopPatience, 'early_stop_patience'))
    .option('--deterministic', 'same seed and threads give the same numbers (always true here)', true)
    .option('--no-deterministic', 'accepted; results are deterministic regardless')
    .option('--num_workers <n>', 'accepted; data loading is in-process', integer('num_workers', 0))
    .option('--quiet', 'print nothing but errors')
    .option('--seed <n>', `seed of grouping, shuffling and weights (default ${d.seed})`, schemaValue(T.seed, 'seed'))
    .option('--threads <n>', 'LibTorch threads (default: all cores)', schemaValue(ThreadsSchema, 'threads'))
    .option('--neighbor_count <k>', 'K nearest neighbours a group is drawn from (default max(4, C))', schemaValue(T.neighborCount, 'neighbor_count'))
    .option('--oversample', 'allow more groups than scan positions')
    .option('--probe_mask', 'soft circular mask on the probe')
    .option('--probe_trainable', 'refine the probe with the network (held at its power); the bundle keeps the refined probe')
    .addOption(new Option('--probe_init <source>', `where the training probe starts: the file's, or retrieved by ePIE from the training patterns (default ${d.probeInit})`).choices(PROBE_INITS))
    .addOption(new Option('--input_norm <mode>', `the network's input: the scaled patterns as they are, or standardised pixel by pixel with the training patterns' mean and standard deviation, kept in the bundle (default ${d.inputNorm})`).choices(INPUT_NORMS))
    .option('--probe_init_iterations <k>', `ePIE iterations of --probe_init epie (default ${d.probeInitIterations})`, schemaValue(T.probeInitIterations, 'probe_init_iterations'))
    .option('--probe_lr_scale <f>', `with --probe_trainable: the probe's learning rate over the network's (default ${d.probeLrScale})`, schemaValue(T.probeLrScale, 'probe_lr_scale'))
    .option('--probe_start_epoch <k>', `with --probe_trainable: epochs before the probe starts to change (default ${d.probeStartEpoch})`, schemaValue(T.probeStartEpoch, 'probe_start_epoch'))
    .option('--n_filters_scale <f>', `network width factor (default ${dm.nFiltersScale})`, schemaValue(M.nFiltersScale, 'n_filters_scale'))
    .addOption(new Option('--amp_activation <name>', `amplitude activation (default ${dm.ampActivation})`).choices(AMP_ACTIVATIONS))
    .option('--no-probe_big', 'decoders fill only the centre N/2 x N/2 of a patch')
    .option('--no-object_big', 'at gridsize > 1, no merge of a group\'s patches')
    .addOption(new Option('--member_network <kind>', `at gridsize > 1: joint feeds a group's patterns to one network as channels (the reference's); shared runs each through the same single-pattern network, at C times the cost and activation memory per group: on a compact probe it learns where joint does not (default ${dm.memberNetwork})`).choices(MEMBER_NETWORKS))
    .option('--intensities', 'the file holds photon counts, not amplitudes')
    .option('--checkpoint_every <k>', 'every K epochs write checkpoints/last.ptpinn (resumable) and checkpoints/best.ptpinn', integer('checkpoint_every'))
    .option('--json', JSON_HELP)
    .option('--with_onnx', 'also store the network as ONNX (model.onnx) in the bundle, for infer --backend onnx and other runtimes')
    .option('--resume <model>', 'continue an interrupted run or a checkpoint: a bundle, or a training output folder')
    .action(async (flags: TrainFlags) => runTrain(flags));
}

/** --resume: a resumable bundle, or a folder holding one (model.ptpinn of an interrupted run, else checkpoints/last.ptpinn). */
async function resumeFrom(path: string): Promise<string> {
  if (!existsSync(path)) throw new UsageError(`--resume ${path} does not exist`);
  if (!statSync(path).isDirectory()) {
    if (!(await readManifest(path)).resume) {
      throw new UsageError(`--resume ${path} holds no training state to resume from (it is a finished model, not a checkpoint or an interrupted run)`);
    }
    return path;
  }
  for (const inside of [join(path, 'model.ptpinn'), join(path, 'checkpoints', 'last.ptpinn')]) {
    if (existsSync(inside) && (await readManifest(inside)).resume) return inside;
  }
  throw new UsageError(`--resume ${path}: the folder holds no resumable model (model.ptpinn of an interrupted run, or checkpoints/last.ptpinn)`);
}

async function runTrain(flags: TrainFlags): Promise<void> {
  checkDevice(flags.device, flags.accelerator);
  const resumePath = flags.resume === undefined ? undefined : await resumeFrom(resolve(flags.resume));
  const dir = await outputFolder(flags.output_dir);
  const report = new Reporter({ quiet: flags.quiet, json: flags.json });
  // signals from here on stop the run cleanly: before training starts nothing is saved
  const signal = stopGracefully((name, first) => {
    if (first) report.warn(`${name}: stopping after this batch and saving the model trained so far`);
  });
  const logger = flags.disable_mlflow ? 'none' : flags.logger;
  // an unusable tracking URI is refused before any work
  const target = logger === 'mlflow' ? mlflowTarget(dir) : undefined;
  report.logTo(join(dir, 'train.log'));
  const started = performance.now();

  const resumed = resumePath ? await loadModel(resumePath) : undefined;
  const trainFile = flags.train_data_file ?? resumed?.trainingData;
  if (!trainFile) throw new UsageError(flags.train_data_file === '' ? '--train_data_file is empty: name the dataset (.npz)' : '--train_data_file is required (a resumed run finds it in its bundle)');
  const onWarning = (w: string) => report.warn(w);
  const data = await loadDataset(trainFile, { intensities: flags.intensities, onWarning });
  if (!flags.intensities && (await looksLikeCounts(trainFile, data))) {
    onWarning(`${trainFile}: every value is a whole number, as photon counts are: if the file holds counts, not amplitudes, pass --intensities`);
  }
  const validation = flags.test_data_file
    ? await loadDataset(flags.test_data_file, { intensities: flags.intensities, onWarning })
    : undefined;
  report.info(`training data: ${trainFile} (${data.diffraction.shape[0]} patterns, N = ${data.diffraction.shape[1]})`);
  if (resumed) report.info(`resuming ${resumePath} after epoch ${resumed.resumeState!.state.epoch}, batch ${resumed.resumeState!.state.batch}`);

  const model = { gridsize: flags.gridsize, nFiltersScale: flags.n_filters_scale, ampActivation: flags.amp_activation,
    probeBig: flags.probe_big === false ? false : undefined, objectBig: flags.object_big === false ? false : undefined,
    probeMask: flags.probe_mask, memberNetwork: flags.member_network };
  const training = { maxEpochs: flags.max_epochs, batchSize: flags.batch_size, learningRate: flags.learning_rate,
    nGroups: flags.n_images, neighborCount: flags.neighbor_count, oversample: flags.oversample,
    seed: flags.seed, lossMode: flags.loss_mode, scheduler: flags.scheduler, earlyStopPatience: flags.early_stop_patience,
    precision: flags.precision, probeTrainable: flags.probe_trainable, probeLrScale: flags.probe_lr_scale,
    probeStartEpoch: flags.probe_start_epoch, probeInit: flags.probe_init, probeInitIterations: flags.probe_init_iterations,
    inputNorm: flags.input_norm };

  let tracker: Tracker | undefined;
  const runName = `train ${new Date().toISOString()}`;
  if (target?.kind === 'file') tracker = await startMlflowRun(target.root, runName);
  else if (target?.kind === 'server') tracker = await startMlflowServerRun(target.url, runName);
  else if (logger === 'csv') tracker = await startCsvLog(dir);
  // snake_case, the flags' names, as the reference logs them
  // a resumed run's configuration is its bundle's, flags aside
  const base = resumed?.training ? { ...(({ N: _, ...rest }) => rest)(resumed.config), ...resumed.training } : { ...defaultModelConfig, ...defaultTrainingConfig };
  const merged = { ...base, ...definedOnly(model), ...definedOnly(training) };
  const config = resolveAutoChoices(merged, data.diffraction.shape[1]);
  await tracker?.logParams({ train_data_file: trainFile, test_data_file: flags.test_data_file,
    ...Object.fromEntries(Object.entries(config).map(([k, v]) => [flagOf(ModelConfigSchema, [k]) ?? flagOf(TrainingConfigSchema, [k]) ?? k, v])),
    threads: flags.threads });

  // tracking is a record of the run, not the run: a server that fails is said, never fatal
  const tracked = async (what: string, call: () => Promise<void> | undefined) => {
    try {
      await call();
    } catch (error) {
      report.warn(`tracking: cannot ${what}: ${(error as Error).message}`);
    }
  };
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

  const checkpoints = join(dir, 'checkpoints');
  if (flags.checkpoint_every) await mkdir(checkpoints, { recursive: true });
  let trained: PtychoPinnModel;
  try {
    trained = await train(data, { model, training }, {
      threads: flags.threads, validation, signal, onWarning, resume: resumed,
      checkpointEvery: flags.checkpoint_every,
      onCheckpoint: async (m, improved) => {
        m.trainingData = resolve(trainFile);
        await saveModel(m, join(checkpoints, 'last.ptpinn'), { resumable: true });
        if (improved && m.resumeState?.best) await saveModel(m, join(checkpoints, 'best.ptpinn'), { weights: m.resumeState.best });
        report.info(`checkpoint: ${join(checkpoints, 'last.ptpinn')} after epoch ${m.resumeState!.state.epoch}`);
      },
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
    if (error instanceof TrainingError) {
      // keep the weights for inspection, but never in place of a good model.ptpinn
      const kept = join(dir, 'model.nonfinite.ptpinn');
      await saveModel(error.model, kept);
      await writeJson(join(dir, 'history.nonfinite.json'), error.model.history);
      report.info(`the weights when training stopped are in ${kept}`);
    }
    await tracked('close the run', () => tracker?.end(error instanceof AbortedError ? 'KILLED' : 'FAILED'));
    const received = signalReceived();
    if (error instanceof AbortedError && received) {
      throw new InterruptedError(received, `interrupted by ${received} before training started: nothing was trained or saved`);
    }
    throw error;
  }
  trained.trainingData = resolve(trainFile);
  const trainedAt = performance.now();
  const bundle = join(dir, 'model.ptpinn');
  const h = trained.history!;
  const interrupted = h.stop === 'cancelled';
  await saveModel(trained, bundle, { resumable: interrupted, withOnnx: flags.with_onnx });
  await writeJson(join(dir, 'history.json'), h);
  await writeLossPlot(join(dir, 'loss.png'), h);
  await logged;
  await tracked('upload the model', () => tracker?.logArtifact(bundle));
  await tracked('close the run', () => tracker?.end(interrupted ? 'KILLED' : 'FINISHED'));
  report.info(`trained ${h.epochLoss.length} epoch(s) in ${seconds(trainedAt - started)} (${h.stop}), network in ${trained.training?.precision}; final loss ${h.epochLoss.at(-1)?.toPrecision(6) ?? '-'}`);
  if (h.stop === 'early_stop') report.info(`early stop: the model holds the weights of epoch ${trained.resumeState?.state.bestEpoch}, the best`);
  report.info(`model: ${bundle}${flags.with_onnx ? ' (with model.onnx)' : ''}`);
  report.info(`history: ${join(dir, 'history.json')}, ${join(dir, 'loss.png')}`);
  if (tracker) report.info(`tracking: ${tracker.location}${target?.kind === 'file' ? `; ${fileStoreHint(target.root)}` : ''}`);
  report.result({
    command: 'train', model: bundle, history: join(dir, 'history.json'), stop: h.stop, epochs: h.epochLoss.length, precision: trained.training?.precision,
    trainingLoss: h.epochLoss, validationLoss: h.validationLoss, seconds: (trainedAt - started) / 1000, tracking: tracker?.location ?? null,
  });
  if (interrupted) {
    const received = signalReceived() ?? 'SIGINT';
    throw new InterruptedError(received, `interrupted by ${received}: the model trained so far is in ${bundle}; ` +
      `continue with: ptychopinn train --resume ${dir} --output_dir ${dir}`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
