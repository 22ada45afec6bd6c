#!/usr/bin/env node
// @ts-check
// What a user gets from the registry, checked on this machine: `npm pack`, then the tarball
// installed into a new project with no compiler on PATH (stubs named cc, c++, g++, gcc, cmake,
// make stand first and fail), then `ptychopinn --version`, `info` (must name the prebuild),
// `inspect`, a tiny train + infer and a `compare` from that install. api.nuget.org is out of reach
// (a dead proxy), as on an offline machine: onnxruntime-node's own install then fails, the
// package's install must not, ONNX inference must say what to run, and what it says must work. CI runs it after `npm run prebuild`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const work = mkdtempSync(join(tmpdir(), 'ptpinn-package-'));
const keep = process.argv.includes('--keep');
let failed = false;

/** @param {string} what @param {string} cmd @param {string[]} args @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [options] */
function run(what, cmd, args, options = {}) {
  const started = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`check-package: ${what} FAILED (exit ${r.status ?? r.signal}, ${seconds} s)\n${r.stdout}\n${r.stderr}`);
    throw new Error(what);
  }
  console.log(`check-package: ${what}: ok (${seconds} s)`);
  return r.stdout + r.stderr;
}

/** @param {boolean} ok @param {string} what */
function expect(ok, what) {
  if (!ok) throw new Error(what);
}

try {
  run('npm pack', 'npm', ['pack', '--pack-destination', work], { cwd: root });
  const name = readdirSync(work).find((f) => f.endsWith('.tgz'));
  expect(name !== undefined, `npm pack made no tarball in ${work}`);
  const tarball = join(work, /** @type {string} */ (name));
  const listing = run('list the tarball', 'tar', ['-tzf', tarball]);
  const prebuild = /package\/prebuilds\/linux-x64\/ptychopinn\.torch-[\d.]+\.napi\.node/.exec(listing)?.[0];
  expect(prebuild !== undefined, 'the tarball holds no prebuilt addon: run `npm run prebuild` first');
  expect(listing.includes('package/prebuilds/linux-x64/ptychopinn-metrics.napi.node'), 'the tarball holds no prebuilt metrics addon');
  expect(!/package\/build\//.test(listing), 'the tarball holds build/');
  console.log(`check-package: the tarball has ${prebuild}`);

  // no compiler: every tool a source build would call fails loudly
  const stubs = join(work, 'no-compiler');
  mkdirSync(stubs);
  for (const tool of ['cc', 'c++', 'g++', 'gcc', 'clang', 'clang++', 'cmake', 'make', 'ninja']) {
    writeFileSync(join(stubs, tool), `#!/bin/sh\necho "${tool}: hidden by check-package (no compiler)" >&2\nexit 127\n`);
    chmodSync(join(stubs, tool), 0o755);
  }
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'check-ptychopinn', private: true }));
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    PATH: `${stubs}:${process.env.PATH}`,
    CC: join(stubs, 'cc'),
    CXX: join(stubs, 'c++'),
    // onnxruntime-node's install script downloads GPU libraries from api.nuget.org through
    // global-agent: a proxy on a closed port makes it fail at once, with or without internet
    GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9',
    GLOBAL_AGENT_HTTP_PROXY: 'http://127.0.0.1:9',
  };
  delete env.ONNXRUNTIME_NODE_INSTALL;
  delete env.npm_config_onnxruntime_node_install;
  // the system LibTorch is the one prebuilds serve: no other may be chosen before it
  delete env.LIBTORCH;
  delete env.Torch_DIR;
  delete env.PTYCHOPINN_LIBTORCH;
  delete env.npm_config_build_from_source;
  env.PYTHON = '/nonexistent/python';
  const installed = run('npm install of the tarball, compiler hidden', 'npm',
    ['install', '--no-audit', '--no-fund', '--foreground-scripts', tarball], { cwd: project, env });
  expect(/ptychopinn: using .*ptychopinn\.torch-[\d.]+\.napi\.node: prebuilt for the system's LibTorch/.test(installed),
    `the install did not take the prebuild:\n${installed}`);
  const pkg = join(project, 'node_modules', 'ptychopinn');
  expect(!existsSync(join(pkg, 'build')), 'the install built something (node_modules/ptychopinn/build exists)');

  const npx = (/** @type {string} */ what, /** @type {string[]} */ args) =>
    run(what, 'npx', ['--no-install', 'ptychopinn', ...args], { cwd: project, env });
  expect(npx('ptychopinn --version', ['--version']).trim() === version, `--version is not ${version}`);
  const info = npx('ptychopinn info', ['info']);
  expect(/addon: .*node_modules\/ptychopinn\/prebuilds\/linux-x64\/ptychopinn\.torch-[\d.]+\.napi\.node \(prebuilt for the system's LibTorch/.test(info),
    `info does not name the prebuild:\n${info}`);
  const fixture = join(pkg, 'fixtures', 'run1084_sim.npz');
  expect(/diffraction/.test(npx('ptychopinn inspect', ['inspect', fixture])), 'inspect does not list the diffraction');
  const out = join(work, 'out');
  npx('ptychopinn train (1 epoch, 32 groups)', ['train', '--train_data_file', fixture, '--output_dir', join(out, 'train'),
    '--max_epochs', '1', '--n_images', '32', '--gridsize', '1', '--logger', 'none', '--quiet']);
  npx('ptychopinn infer (32 patterns)', ['infer', '--model_path', join(out, 'train'), '--test_data', fixture,
    '--output_dir', join(out, 'infer'), '--n_images', '32']);
  expect(existsSync(join(out, 'infer', 'reconstructed_phase.png')), 'infer wrote no reconstructed_phase.png');
  expect(existsSync(join(out, 'infer', 'metrics.json')), 'infer wrote no metrics.json (the metrics addon)');
  const compared = npx('ptychopinn compare', ['compare', join(out, 'infer', 'reconstruction.npz'), fixture]);
  expect(/phase/.test(compared) && /SSIM/.test(compared), `compare printed no scores:\n${compared}`);

  // ONNX Runtime: left out by the install (its download failed), said so, then installed as said
  expect(!existsSync(join(project, 'node_modules', 'onnxruntime-node')), 'onnxruntime-node was installed although api.nuget.org was out of reach');
  const onnxArgs = ['infer', '--backend', 'onnx', '--model_path', join(out, 'train'), '--test_data', fixture,
    '--output_dir', join(out, 'onnx'), '--n_images', '32'];
  const refused = spawnSync('npx', ['--no-install', 'ptychopinn', ...onnxArgs], { cwd: project, env, encoding: 'utf8' });
  const advice = /`(ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node)`/.exec(refused.stderr);
  expect(refused.status === 1 && advice !== null, `infer --backend onnx without onnxruntime-node (exit ${refused.status}):\n${refused.stderr}`);
  console.log('check-package: infer --backend onnx without onnxruntime-node says what to run: ok');
  run('npm install onnxruntime-node as advised', 'npm', ['install', '--no-audit', '--no-fund', 'onnxruntime-node'],
    { cwd: project, env: { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  npx('ptychopinn infer --backend onnx (32 patterns)', onnxArgs);
  expect(existsSync(join(out, 'onnx', 'metrics.json')), 'infer --backend onnx wrote no metrics.json');
  console.log('check-package: the packed package installs without a compiler or api.nuget.org, loads its prebuilds, trains, infers (LibTorch and ONNX) and compares');
} catch (error) {
  failed = true;
  console.error(`check-package: ${error instanceof Error ? error.message : error}`);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`check-package: kept ${work}`);
}
process.exit(failed ? 1 : 0);
