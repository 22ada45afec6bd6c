#!/usr/bin/env node
// @ts-check
// `npm run prebuild [-- --move] [-- ROOT]`: make the cmake-js build prebuilt addons,
// prebuilds/<platform>-<arch>/ptychopinn.torch-<LibTorch version>.napi.node (under this package or
// ROOT), which `npm pack` ships and the loader and the install pick on machines whose system
// LibTorch has that version, and beside it ptychopinn-metrics.napi.node, which needs no LibTorch.
// `--move` removes the build, so that this checkout loads the prebuilds from then on (CI tests
// the prebuilds that way).
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
/** @type {import('./prebuilds.cjs')} */
const prebuilds = require('./prebuilds.cjs');

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const fail = (/** @type {string} */ message) => {
  console.error(`ptychopinn: ${message}`);
  process.exit(1);
};
const move = process.argv.includes('--move');
const target = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? root;

const built = join(root, 'build', 'Release', 'ptychopinn.node');
if (!existsSync(built)) fail(`${built} does not exist; run \`npm run build:addon\` first`);
// A prebuild must link a LibTorch that other machines have at the same place: the system's.
const stamp = join(root, 'build', 'libtorch-choice.json');
const source = existsSync(stamp) ? JSON.parse(readFileSync(stamp, 'utf8')).source : undefined;
if (source !== 'system' && source !== 'apt') {
  fail(`the build links ${source ? `a LibTorch from ${source}` : 'an unknown LibTorch (no build/libtorch-choice.json)'}, ` +
    'whose path other machines do not have: a prebuild is made against the system LibTorch (libtorch-dev)');
}
const probed = prebuilds.addonTorchVersion(built);
if ('error' in probed) fail(`${built} does not load: ${probed.error}`);
const version = /** @type {{ version: string }} */ (probed).version;
const system = prebuilds.systemLibtorch();
if (!system || system.version !== version) {
  fail(`the build is for LibTorch ${version}, the system has ${system ? system.version : 'none'}`);
}
const builtMetrics = join(root, 'build', 'Release', 'ptychopinn_metrics.node');
if (!existsSync(builtMetrics)) fail(`${builtMetrics} does not exist; run \`npm run build:addon\` first`);
const metricsError = prebuilds.loadError(builtMetrics);
if (metricsError) fail(`${builtMetrics} does not load: ${metricsError}`);
const dir = prebuilds.prebuildDir(target);
mkdirSync(dir, { recursive: true });
for (const [from, name, what] of [[built, prebuilds.prebuildName(version), `LibTorch ${version}`],
  [builtMetrics, prebuilds.METRICS_PREBUILD, 'no LibTorch']]) {
  const file = join(dir, name);
  // never a half-written prebuild: copy beside it, then rename
  copyFileSync(from, `${file}.tmp`);
  renameSync(`${file}.tmp`, file);
  if (move) rmSync(from);
  console.log(`ptychopinn: ${move ? 'moved' : 'copied'} ${from} to ${file} (${what})`);
}
