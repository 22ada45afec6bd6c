// The examples run as a user would run them: the Node API example, and the ptychodus adapter's
// self-test (the whole ptychodus lifecycle through the command line's --json mode, with stand-ins
// of ptychodus' classes, since ptychodus itself is not installable here).
import test from 'ava';
import { resolve } from 'node:path';
import { runNode } from './helpers/cli.js';
import { findPythonWithNumpy } from './helpers/python.js';
import { execFileSync } from 'node:child_process';
import { loadDataset } from '../lib/dataset.js';
import { groupPositions } from '../lib/grouping.js';

test('examples/train-and-reconstruct.mjs trains, saves, loads and reconstructs through the package API', async (t) => {
  t.timeout(600_000);
  const r = await runNode([resolve('examples/train-and-reconstruct.mjs'), '1'], { env: { PTYCHOPINN_CORES: '2' } });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^epoch 1\/1: loss \d/m);
  // every pattern in a group, the groups drawn with the training seed (the default 42)
  const data = await loadDataset('fixtures/run1084_sim.npz');
  const cover = groupPositions(data.xcoords, data.ycoords, { gridsize: 2, nGroups: data.diffraction.shape[0], seed: 42, cover: true });
  t.true(cover.count < data.diffraction.shape[0] / 2);
  t.regex(r.stdout, new RegExp(`reconstructed ${cover.count} groups`));
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  t.is(summary.epochs, 1);
  t.true(Number.isFinite(summary.phaseCorrelation));
});

test('examples/ptychodus_adapter.py: export, train with validation, reconstruct with progress, cancel, save and open, through --json', async (t) => {
  t.timeout(600_000);
  const python = findPythonWithNumpy();
  if (!python) {
    t.log('no Python with numpy: the adapter\'s self-test needs one');
    t.pass();
    return;
  }
  const out = execFileSync(python, [resolve('examples/ptychodus_adapter.py'), '--self-test'], { encoding: 'utf8', timeout: 600_000 });
  const result = JSON.parse(out.trim().split('\n').at(-1)!);
  t.is(result.self_test, 'passed');
  t.is(result.progress_goal, 512);
  t.is(result.training_loss.length, 2);
  t.is(result.validation_loss.length, 2);
  // a reconstruction abandoned after its first progress event: the child was stopped
  t.not(result.cancelled_exit, 0);
  t.true(result.lit_pixels > 10_000);
});
