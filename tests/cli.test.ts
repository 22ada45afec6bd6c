import test from 'ava';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readNpz } from '../lib/npz.js';
import { runCli } from './helpers/cli.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');
const SOURCE = resolve('fixtures/run1084_source.npz');
let dir = '';
let bundle = '';
test.before(async (t) => {
  t.timeout(300_000);
  dir = await mkdtemp(join(tmpdir(), 'ptpinn-cli-'));
  // one small trained model for the infer and inspect cases, with an MLflow run beside it
  const out = join(dir, 'trained');
  const r = await runCli(['train', '--train_data_file', FIXTURE, '--output_dir', out, '--max_epochs', '1', '--n_images', '16',
    '--batch_size', '8', '--gridsize', '1', '--quiet'], { env: { MLFLOW_TRACKING_URI: '' } });
  if (r.code !== 0) throw new Error(r.stderr);
  bundle = join(out, 'model.ptpinn');
});
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

test('--help of every command exits 0 and lists its flags', async (t) => {
  t.timeout(300_000);
  for (const [command, flag] of [['train', '--train_data_file'], ['infer', '--model_path'], ['simulate', '--photons'], ['demo', '--max_epochs'], ['inspect', '<file>']]) {
    const r = await runCli([command, '--help']);
    t.is(r.code, 0, command);
    t.true(r.stdout.includes(flag), `${command} --help mentions ${flag}`);
  }
  t.is((await runCli(['--version'])).code, 0);
});

test('usage errors exit 2 and name the flag', async (t) => {
  t.timeout(300_000);
  const cases: [string[], RegExp][] = [
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--max_epoch', '3'], /unknown option '--max_epoch'[\s\S]*Did you mean --max_epochs\?/],
    [['train', '--output_dir', dir], /--train_data_file is required/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--batch-size', '0'], /--batch_size must be an integer from 1 to 1048576, got '0'/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--learning_rate', 'fast'], /--learning_rate must be a positive finite number, got 'fast'/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--threads', '100000'], /--threads must be an integer from 1 to 1024, got '100000'/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', ''], /--output_dir is empty/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', '/proc/ptychopinn-out'], /lies on a kernel pseudo file system/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', FIXTURE], /--output_dir .*run1084_sim\.npz is a file, expected a folder/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--loss_mode', 'l2'], /'--loss_mode <mode>' argument 'l2' is invalid\. Allowed choices are poisson, mae/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--input_norm', 'global'], /'--input_norm <mode>' argument 'global' is invalid\. Allowed choices are none, pixel/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--member_network', 'both'], /'--member_network <kind>' argument 'both' is invalid\. Allowed choices are joint, shared/],
    [['infer', '--model_path', bundle, '--test_data', FIXTURE, '--output_dir', dir, '--inference_groups', 'all'], /'--inference_groups <groups>' argument 'all' is invalid\. Allowed choices are cover, every/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--resume', bundle], /holds no training state to resume from/],
    [['train', '--train_data_file', FIXTURE, '--output_dir', dir, '--device', 'cuda'], /--device cuda: the LibTorch this addon was built against .* has no CUDA/],
    [['infer', '--model_path', bundle, '--test_data', FIXTURE, '--output_dir', dir, '--backend', 'onnx', '--align_phases', '2'], /--align_phases needs --backend torch/],
    [['infer', '--model_path', bundle, '--test_data', FIXTURE, '--output_dir', dir, '--backend', 'onnx', '--gridsize', '2'], /--gridsize is 2, but the model in .* was trained with 1/],
    [['infer', '--model_path', bundle, '--test_data', FIXTURE, '--output_dir', dir, '--gridsize', '2'], /--gridsize is 2, but the model in .* was trained with 1/],
    [['infer', '--model_path', join(dir, 'nothing-here'), '--test_data', FIXTURE, '--output_dir', dir], /--model_path .*nothing-here does not exist/],
    [['trian'], /unknown command 'trian'[\s\S]*Did you mean train\?/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
});

test('--json: every stdout line a JSON event, progress to the total, the result last; errors too', async (t) => {
  t.timeout(300_000);
  const out = join(dir, 'json');
  const r = await runCli(['infer', '--model_path', bundle, '--test_data', FIXTURE, '--output_dir', out, '--n_images', '40', '--json']);
  t.is(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; [k: string]: unknown });
  const progress = events.filter((e) => e.event === 'progress');
  t.true(progress.length >= 3);
  t.like(progress.at(-1), { stage: 'infer', done: 40, total: 40 });
  t.true(events.some((e) => e.event === 'log' && /reconstructed 40 group/.test(String(e.message))));
  t.like(events.at(-1), { event: 'result', command: 'infer', reconstruction: join(out, 'reconstruction.npz'), groups: 40 });
  const bad = await runCli(['infer', '--model_path', join(dir, 'nothing'), '--test_data', FIXTURE, '--output_dir', out, '--json']);
  t.is(bad.code, 2);
  t.like(JSON.parse(bad.stdout.trim().split('\n').at(-1)!), { event: 'error', code: 'ERR_PTYCHOPINN_USAGE', exitCode: 2 });
  const train = await runCli(['train', '--train_data_file', FIXTURE, '--output_dir', join(dir, 'json-train'), '--max_epochs', '2', '--n_images', '16',
    '--batch_size', '8', '--gridsize', '1', '--logger', 'none', '--json']);
  t.is(train.code, 0, train.stderr);
  const trainEvents = train.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; [k: string]: unknown });
  t.is(trainEvents.filter((e) => e.event === 'progress').length, 4); // 2 epochs of 2 batches
  const result = trainEvents.at(-1)!;
  t.like(result, { event: 'result', command: 'train', epochs: 2, stop: 'completed' });
  t.is((result.trainingLoss as number[]).length, 2);
});

test('a reader that closes the pipe early ends what is printed, not the run', async (t) => {
  t.timeout(300_000);
  const out = join(dir, 'epipe');
  const r = await runCli(['infer', '--model_path', bundle, '--test_data', FIXTURE, '--output_dir', out, '--n_images', '40', '--json'],
    { onOutput: (child) => child.stdout?.destroy() });
  t.is(r.code, 0, r.stderr);
  t.true((await readdir(out)).includes('reconstruction.npz'));
});

test('bad files exit 1 with the file and the problem named', async (t) => {
  t.timeout(300_000);
  const text = join(dir, 'text.npz');
  await writeFile(text, 'not a zip');
  const r1 = await runCli(['train', '--train_data_file', text, '--output_dir', join(dir, 'bad1'), '--disable_mlflow']);
  t.is(r1.code, 1);
  t.regex(r1.stderr, /text\.npz is not a complete zip file/);
  const r2 = await runCli(['infer', '--model_path', FIXTURE, '--test_data', FIXTURE, '--output_dir', join(dir, 'bad2')]);
  t.is(r2.code, 1);
  t.regex(r2.stderr, /run1084_sim\.npz: not a ptychopinn model bundle: no manifest\.json/);
  const r3 = await runCli(['train', '--train_data_file', SOURCE, '--output_dir', join(dir, 'bad3'), '--disable_mlflow']);
  t.is(r3.code, 1);
  t.regex(r3.stderr, /run1084_source\.npz: no diffraction: expected a key 'diffraction'/);
});

test('train writes an MLflow file-store run that mlflow ui would list', async (t) => {
  t.timeout(300_000);
  const root = join(dir, 'trained', 'mlruns');
  const experiment = await readFile(join(root, '0', 'meta.yaml'), 'utf8');
  t.regex(experiment, /^experiment_id: '0'$/m);
  t.regex(experiment, /^name: 'Default'$/m);
  const runs = (await readdir(join(root, '0'))).filter((f) => f !== 'meta.yaml');
  t.is(runs.length, 1);
  const run = join(root, '0', runs[0]);
  const meta = await readFile(join(run, 'meta.yaml'), 'utf8');
  t.regex(meta, new RegExp(`^run_id: '${runs[0]}'$`, 'm'));
  t.regex(meta, /^status: 3$/m); // FINISHED
  t.regex(meta, /^end_time: \d{13}$/m);
  // snake_case names and Python's booleans, as the reference's runs hold them
  t.is(await readFile(join(run, 'params', 'max_epochs'), 'utf8'), '1');
  t.is(await readFile(join(run, 'params', 'probe_big'), 'utf8'), 'True');
  t.true((await readdir(root)).includes('.trash'));
  t.regex(await readFile(join(run, 'metrics', 'train_loss'), 'utf8'), /^\d{13} -?\d+(\.\d+)?(e[-+]\d+)? 1\n$/);
  t.truthy(await readFile(join(run, 'tags', 'mlflow.runName'), 'utf8'));
  t.true((await readdir(join(run, 'artifacts'))).includes('model.ptpinn'));
});

test('--logger csv writes metrics.csv and --quiet prints nothing', async (t) => {
  t.timeout(300_000);
  const out = join(dir, 'csv');
  const r = await runCli(['train', '--train_data_file', FIXTURE, '--output_dir', out, '--max_epochs', '1', '--n_images', '8',
    '--batch_size', '8', '--gridsize', '1', '--logger', 'csv', '--quiet']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.regex(await readFile(join(out, 'metrics.csv'), 'utf8'), /^step,key,value\n1,train_loss,-?\d/);
  t.regex(await readFile(join(out, 'train.log'), 'utf8'), /epoch 1\/1/);
});

test('train --member_network shared: the bundle holds one single-pattern network and says so', async (t) => {
  t.timeout(300_000);
  const out = join(dir, 'shared');
  const r = await runCli(['train', '--train_data_file', FIXTURE, '--output_dir', out, '--max_epochs', '1', '--n_images', '4',
    '--batch_size', '4', '--gridsize', '2', '--member_network', 'shared', '--logger', 'none', '--quiet']);
  t.is(r.code, 0, r.stderr);
  const model = await runCli(['inspect', join(out, 'model.ptpinn')]);
  t.is(model.code, 0, model.stderr);
  t.regex(model.stdout, /gridsize 2, .*member_network shared; 2,336,308 parameters/);
});

test('inspect describes datasets and bundles without training anything', async (t) => {
  t.timeout(300_000);
  const data = await runCli(['inspect', FIXTURE]);
  t.is(data.code, 0);
  t.regex(data.stdout, /diffraction: float32 \(512, 64, 64\), deflated/);
  t.regex(data.stdout, /dataset: 512 patterns of 64 x 64; x .* \(object pixels\); mean photons per pattern/);
  const model = await runCli(['inspect', bundle]);
  t.is(model.code, 0);
  t.regex(model.stdout, /ptychopinn model bundle, format 1/);
  t.regex(model.stdout, /2,336,308 parameters/);
  const source = await runCli(['inspect', SOURCE]);
  t.is(source.code, 1);
  t.regex(source.stdout, /objectGuess: complex64 \(227, 226\)/);
  t.regex(source.stderr, /not a usable dataset: .*no diffraction/);
});

test('simulate writes a dataset from an object and a probe on a spiral', async (t) => {
  t.timeout(300_000);
  const out = join(dir, 'sim', 'spiral.npz');
  await mkdir(join(dir, 'sim'));
  const r = await runCli(['simulate', '--input_file', SOURCE, '--output_file', out, '--scan', 'spiral', '--n_positions', '40', '--step', '5', '--photons', '1e5']);
  t.is(r.code, 0, r.stderr);
  const npz = await readNpz(out);
  t.deepEqual(npz.diffraction.shape, [40, 64, 64]);
  t.deepEqual(npz.objectGuess.shape, [227, 226]);
  let total = 0;
  for (const v of npz.diffraction.data as Float32Array) total += v * v;
  t.true(Math.abs(total / 40 - 1e5) < 5 * Math.sqrt(1e5 / 40));
});
