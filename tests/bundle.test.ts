import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE_VERSION, BundleError, loadModel, readManifest, saveModel } from '../lib/bundle.js';
import { ConfigError } from '../lib/config.js';
import { type Dataset, loadDataset } from '../lib/dataset.js';
import type { PtychoPinnModel } from '../lib/model.js';
import { train } from '../lib/training.js';
import { ZipArchive, writeZip } from '../lib/zip.js';
import { findPython, runPython } from './helpers/python.js';

let dir = '';
let data: Dataset;
let model: PtychoPinnModel;
let path = '';

test.before(async (t) => {
  t.timeout(180_000);
  dir = await mkdtemp(join(tmpdir(), 'ptpinn-bundle-'));
  data = await loadDataset('fixtures/run1084_sim.npz');
  model = await train(data, { model: { gridsize: 1 }, training: { nGroups: 16, maxEpochs: 1, batchSize: 8 } }, { threads: 2 });
  path = join(dir, 'model.ptpinn');
  await saveModel(model, path);
});
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

test('save -> load -> reconstruct is bit-identical to the model in memory', async (t) => {
  t.timeout(180_000);
  const loaded = await loadModel(path);
  const [a, b] = [await model.reconstruct(data, { nImages: 24, threads: 2 }), await loaded.reconstruct(data, { nImages: 24, threads: 2 })];
  t.deepEqual(Buffer.from(b.object.data.buffer), Buffer.from(a.object.data.buffer));
  t.deepEqual(b.origin, a.origin);
  t.deepEqual(loaded.config, model.config);
  t.deepEqual(loaded.training, model.training);
  t.is(loaded.intensityScale, model.intensityScale);
  t.deepEqual(loaded.history, model.history);
  t.deepEqual(loaded.probe.data, model.probe.data);
});

test('the manifest records versions, configuration and a SHA-256 of every other entry', async (t) => {
  t.timeout(180_000);
  const manifest = await readManifest(path);
  t.is(manifest.formatVersion, BUNDLE_VERSION);
  t.regex(manifest.libtorch, /^\d+\.\d+/);
  t.is(manifest.config.model.gridsize, 1);
  t.is(manifest.config.training?.nGroups, 16);
  t.deepEqual(Object.keys(manifest.entries).sort(), ['probe.npy', 'weights.safetensors']);
  t.true(Object.values(manifest.entries).every((e) => /^[0-9a-f]{64}$/.test(e.sha256)));
  t.is(manifest.parameterCount, 2_336_308);
  t.is(manifest.history?.epochLoss.length, 1);
});

test('a model field given explicitly must match the bundle', async (t) => {
  t.timeout(180_000);
  t.is((await loadModel(path, { gridsize: 1, N: 64 })).config.gridsize, 1);
  const error = await t.throwsAsync(loadModel(path, { gridsize: 2 }), { instanceOf: ConfigError });
  // the API names the field, the command line the flag
  t.regex(error!.message, /^gridsize is 2, but the model in .*model\.ptpinn was trained with 1/);
  t.regex((error as ConfigError).flagMessage, /^--gridsize is 2, but the model in .*model\.ptpinn was trained with 1/);
  t.is(error!.code, 'ERR_PTYCHOPINN_CONFIG');
});

test('member_network shared: trained, saved and loaded, it reconstructs as in memory', async (t) => {
  t.timeout(300_000);
  const shared = await train(data, { model: { gridsize: 2, memberNetwork: 'shared' }, training: { nGroups: 16, maxEpochs: 1, batchSize: 8 } }, { threads: 2 });
  const file = join(dir, 'shared.ptpinn');
  await saveModel(shared, file);
  const manifest = await readManifest(file);
  t.is(manifest.config.model.memberNetwork, 'shared');
  // one single-pattern network, whatever the gridsize
  t.is(manifest.parameterCount, 2_336_308);
  const loaded = await loadModel(file);
  t.is(loaded.config.memberNetwork, 'shared');
  const [a, b] = [await shared.reconstruct(data, { nImages: 24, threads: 2 }), await loaded.reconstruct(data, { nImages: 24, threads: 2 })];
  t.deepEqual(Buffer.from(b.object.data.buffer), Buffer.from(a.object.data.buffer));
  shared.dispose();
  loaded.dispose();
});

// Rewrites the bundle with `change` applied to its members.
async function rewrite(name: string, change: (members: Map<string, Uint8Array>) => void): Promise<string> {
  const zip = await ZipArchive.open(path, 'a bundle');
  const members = new Map<string, Uint8Array>();
  for (const [member, entry] of zip.entries) members.set(member, await zip.read(entry, member));
  zip.close();
  change(members);
  const out = join(dir, name);
  await writeZip(out, [...members].map(([n, bytes]) => ({ name: n, parts: [bytes], compress: false })));
  return out;
}

const manifestOf = (m: Map<string, Uint8Array>) => JSON.parse(Buffer.from(m.get('manifest.json')!).toString());

test('a bundle written before member_network existed loads as the joint network it holds', async (t) => {
  t.timeout(180_000);
  const older = await rewrite('older.ptpinn', (m) => {
    const manifest = manifestOf(m);
    t.is(manifest.config.model.memberNetwork, 'joint');
    delete manifest.config.model.memberNetwork;
    m.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  });
  const loaded = await loadModel(older);
  t.is(loaded.config.memberNetwork, 'joint');
  t.is(loaded.parameterCount, model.parameterCount);
  loaded.dispose();
});

test('a bundle from a newer format version asks for an upgrade', async (t) => {
  t.timeout(180_000);
  const newer = await rewrite('newer.ptpinn', (m) => {
    m.set('manifest.json', Buffer.from(JSON.stringify({ ...manifestOf(m), formatVersion: BUNDLE_VERSION + 1 })));
  });
  await t.throwsAsync(loadModel(newer), { instanceOf: BundleError, message: /newer\.ptpinn: written by a newer ptychopinn .* bundle format 2; .* reads format 1 at most: upgrade/ });
});

test('a truncated bundle is refused as an incomplete zip', async (t) => {
  t.timeout(180_000);
  const bytes = await readFile(path);
  const cut = join(dir, 'cut.ptpinn');
  await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  await t.throwsAsync(loadModel(cut), { instanceOf: BundleError, message: /cut\.ptpinn: not a model bundle: is not a complete zip file/ });
});

test('a flipped byte in the weights is caught', async (t) => {
  t.timeout(180_000);
  const bytes = Buffer.from(await readFile(path));
  const at = bytes.indexOf(Buffer.from('weights.safetensors')) + 4000; // inside the stored weights
  bytes[at] ^= 0x10;
  const flipped = join(dir, 'flipped.ptpinn');
  await writeFile(flipped, bytes);
  await t.throwsAsync(loadModel(flipped), { instanceOf: BundleError, message: /flipped\.ptpinn: weights\.safetensors is (damaged|corrupt)/ });
});

test('weights that no longer match their manifest hash are caught even with a valid zip', async (t) => {
  t.timeout(180_000);
  const tampered = await rewrite('tampered.ptpinn', (m) => {
    const w = Uint8Array.from(m.get('weights.safetensors')!);
    w[w.length - 1] ^= 1;
    m.set('weights.safetensors', w);
  });
  await t.throwsAsync(loadModel(tampered), { message: /tampered\.ptpinn: weights\.safetensors is corrupt: its SHA-256 .* does not match the manifest/ });
});

test('files that are not bundles say so', async (t) => {
  t.timeout(180_000);
  await t.throwsAsync(loadModel('fixtures/run1084_sim.npz'), { instanceOf: BundleError, message: /run1084_sim\.npz: not a ptychopinn model bundle: no manifest\.json \(the zip holds diffraction\.npy/ });
  const text = join(dir, 'notes.ptpinn');
  await writeFile(text, 'hello');
  await t.throwsAsync(loadModel(text), { instanceOf: BundleError, message: /notes\.ptpinn: not a model bundle/ });
  const foreign = await rewrite('foreign.ptpinn', (m) => m.set('manifest.json', Buffer.from('{"format": "something-else"}')));
  await t.throwsAsync(loadModel(foreign), { message: /not a ptychopinn model bundle: manifest\.json says format "something-else"/ });
});

const python = findPython(['numpy', 'safetensors']);
(python ? test : test.skip)(`Python's safetensors reads the weights with the network's names${python ? '' : ' (skipped: no Python with numpy and safetensors)'}`, async (t) => {
  const zip = await ZipArchive.open(path, 'a bundle');
  const weights = await zip.read(zip.entries.get('weights.safetensors')!, 'weights');
  zip.close();
  const file = join(dir, 'weights.safetensors');
  await writeFile(file, weights);
  const out = JSON.parse(runPython(python!, `
import json, sys
from safetensors.numpy import load_file
w = load_file(sys.argv[1])
print(json.dumps({k: [list(v.shape), float(v.astype('float64').sum())] for k, v in w.items()}))`, [file])) as Record<string, [number[], number]>;
  const parameters = model.parameters();
  t.deepEqual(Object.keys(out).sort(), parameters.map((p) => p.name).sort());
  for (const p of parameters) {
    t.deepEqual(out[p.name][0], p.shape);
    const sum = p.data.reduce((s, v) => s + v, 0);
    t.true(Math.abs(out[p.name][1] - sum) <= 1e-6 * (1 + Math.abs(sum)), p.name);
  }
});
