// SIGINT and SIGTERM through the command line: the batch finishes, a bundle that loads is written
// atomically, the exit code is 130 / 143 with a message, and `train --resume` finishes the run.
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel, readManifest } from '../lib/bundle.js';
import { runCli } from './helpers/cli.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');
let dir = '';
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'ptpinn-interrupt-')); });
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

const trainArgs = (out: string) => ['train', '--train_data_file', FIXTURE, '--output_dir', out, '--max_epochs', '4',
  '--n_images', '64', '--batch_size', '8', '--gridsize', '1', '--n_filters_scale', '1', '--disable_mlflow', '--threads', '2'];

async function leftovers(folder: string): Promise<string[]> {
  const names = await readdir(folder, { recursive: true });
  return names.filter((n) => n.includes('.tmp-'));
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test.serial(`${signal} during training saves a resumable model, exits ${code}, and --resume completes the run`, async (t) => {
    t.timeout(600_000);
    const out = join(dir, signal);
    let sent = false;
    const run = await runCli(trainArgs(out), {
      onOutput: (child, text) => {
        if (!sent && /epoch 1\/4/.test(text)) {
          sent = true;
          child.kill(signal);
        }
      },
    });
    t.true(sent, run.stdout + run.stderr);
    t.is(run.code, code, run.stderr);
    t.regex(run.stderr, new RegExp(`${signal}: stopping after this batch`));
    t.regex(run.stderr, new RegExp(`interrupted by ${signal}: the model trained so far is in .*model\\.ptpinn; continue with: ptychopinn train --resume`));
    t.deepEqual(await leftovers(out), []);
    const manifest = await readManifest(join(out, 'model.ptpinn'));
    t.truthy(manifest.resume);
    t.is(manifest.history?.stop, 'cancelled');
    const model = await loadModel(join(out, 'model.ptpinn'));
    t.true(model.parameters().every((p) => p.data.every(Number.isFinite)));
    t.regex(await readFile(join(out, 'train.log'), 'utf8'), new RegExp(`interrupted by ${signal}`));

    // the data file comes from the bundle
    const resumed = await runCli(['train', '--resume', out, '--output_dir', out, '--disable_mlflow', '--threads', '2']);
    t.is(resumed.code, 0, resumed.stderr);
    t.regex(resumed.stdout, /resuming .*model\.ptpinn after epoch/);
    const done = await readManifest(join(out, 'model.ptpinn'));
    t.is(done.history?.stop, 'completed');
    t.is(done.history?.epochLoss.length, 4);
    t.is(done.resume, undefined);
  });
}

test.serial('a signal at any moment (start-up, loading, grouping, training, saving) ends with its exit code and a message, never a bare kill', async (t) => {
  t.timeout(600_000);
  for (const delay of [250, 700, 1200, 2500]) {
    const out = join(dir, `at-${delay}`);
    let timer: NodeJS.Timeout | undefined;
    const run = await runCli(trainArgs(out), { onSpawn: (child) => { timer = setTimeout(() => child.kill('SIGINT'), delay); } });
    clearTimeout(timer);
    t.log(`SIGINT at ${delay} ms: exit ${run.code}; ${run.stderr.trim().split('\n').at(-1)}`);
    t.is(run.signal, null, `killed by the signal at ${delay} ms: ${run.stderr}`);
    t.true(run.code === 130 || run.code === 0, `exit ${run.code} at ${delay} ms: ${run.stderr}`);
    if (run.code === 130) t.regex(run.stderr, /interrupted by SIGINT/);
    if (existsSync(out)) t.deepEqual(await leftovers(out), []);
    if (existsSync(join(out, 'model.ptpinn'))) await t.notThrowsAsync(loadModel(join(out, 'model.ptpinn')));
  }
});
