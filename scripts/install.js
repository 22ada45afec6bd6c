#!/usr/bin/env node
// @ts-check
// `npm install` entry: choose a LibTorch (scripts/libtorch.js), install Debian's when allowed and
// missing (announced first; PTYCHOPINN_LIBTORCH=skip refuses), then take the prebuilt addon made
// for that LibTorch when the package has one that loads (scripts/prebuilds.cjs), else build the
// addon with cmake-js (always with `npm install --build-from-source`).
// Without any LibTorch the install still succeeds without that addon: what needs no LibTorch works
// (the metrics addon, which links none, comes from its prebuild or is built alone), and what
// needs LibTorch says what is missing. `--dry-run` prints the plan and changes nothing;
// `--no-build` carries out the plan (the apt install) but builds nothing.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineProbe, planLibtorch } from './libtorch.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const log = (/** @type {string} */ line) => console.log(`ptychopinn: ${line}`);

const dryRun = process.argv.includes('--dry-run');
const noBuild = process.argv.includes('--no-build');
let plan = planLibtorch(process.env, machineProbe);
if (dryRun) {
  console.log(JSON.stringify(plan, null, 2));
  process.exit(plan.source === 'none' ? 1 : 0);
}
const prebuilds = /** @type {import('./prebuilds.cjs')} */ (createRequire(import.meta.url)('./prebuilds.cjs'));
// a git checkout is where native/ gets edited: it always builds (a prebuild would hide the edit)
const checkout = existsSync(join(root, '.git'));
const fromSource = checkout || process.argv.includes('--build-from-source') ||
  /^(1|true)$/.test(process.env.npm_config_build_from_source ?? '');
const buildDir = join(root, 'build');
const stamp = join(buildDir, 'libtorch-choice.json');
/** @type {string[] | undefined} */
let missingCache;
// asked once: without a compiler both the metrics addon and the LibTorch one ask
const missingTools = () => (missingCache ??= ['cmake', process.env.CXX || 'c++'].filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0));

/**
 * cmake-js over CMakeLists.txt into `out` with these -D definitions. A different set than the
 * last build's needs a clean build (CMake keeps the old Torch_DIR in its cache): `stamp` records
 * it. False when the build failed.
 * @param {string} out @param {string[]} defines @param {string} stampFile
 */
function cmakeBuild(out, defines, stampFile) {
  const choice = JSON.stringify({ source: plan.source, defines });
  const same = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === choice;
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, same ? 'build' : 'rebuild', '--out', out,
    '--parallel', String(Math.min(2, cpus().length)), ...defines.map((d) => `--CD${d}`)];
  log(`building: cmake-js ${args.slice(1).join(' ')}`);
  const build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) return false;
  writeFileSync(stampFile, choice);
  return true;
}

/**
 * The metrics addon (no LibTorch) where the LibTorch addon is not built here: a local build that
 * loads, else the prebuild, else built alone in build/metrics-only (its own CMake folder: never
 * the full build's, which a clean rebuild would delete) and copied where the loader looks. Never
 * a reason to fail the install. Returns what to tell the user.
 */
function metricsAddon() {
  const local = join(buildDir, 'Release', 'ptychopinn_metrics.node');
  if (existsSync(local)) {
    if (!prebuilds.loadError(local)) return `the metrics (compare, metrics.json) use ${local}`;
    rmSync(local);
  }
  const prebuilt = join(prebuilds.prebuildDir(root), prebuilds.METRICS_PREBUILD);
  if (!fromSource && existsSync(prebuilt)) {
    const error = prebuilds.loadError(prebuilt);
    if (!error) return `the metrics (compare, metrics.json) use ${prebuilt}`;
    log(`${prebuilt} does not load here (${error})`);
  }
  if (missingTools().length > 0) return 'the metrics are unavailable too (no prebuild fits, and cmake or g++ is missing)';
  const out = join(buildDir, 'metrics-only');
  mkdirSync(out, { recursive: true });
  if (!cmakeBuild(out, ['PTPINN_METRICS_ONLY=ON'], join(out, 'choice.json'))) return 'the metrics addon failed to build (the lines above say why)';
  mkdirSync(dirname(local), { recursive: true });
  copyFileSync(join(out, 'Release', 'ptychopinn_metrics.node'), `${local}.tmp`);
  renameSync(`${local}.tmp`, local);
  return `the metrics addon (no LibTorch) was built: compare and metrics.json use ${local}`;
}

log(plan.summary);
// a setting that is wrong (LIBTORCH, Torch_DIR, PTYCHOPINN_LIBTORCH=require) is a mistake to fix,
// not a machine without LibTorch
if (plan.error && plan.fatal) process.exit(1);
if (plan.source === 'skip' || plan.error) {
  const metrics = noBuild ? 'nothing built (--no-build)' : metricsAddon();
  // the package is still usable without the addon: NPY/NPZ, inspect, compare, export-onnx, ONNX
  // inference; stderr, which npm shows more often than a script's stdout
  console.error(`ptychopinn: installed WITHOUT the LibTorch addon (${metrics}): commands that need LibTorch will say so. ` +
    'Once LibTorch is there, `npm rebuild ptychopinn` builds the addon (PTYCHOPINN_LIBTORCH=require makes this an error).');
  process.exit(0);
}

if (plan.commands) {
  for (const [cmd, ...args] of plan.commands) {
    log(`running ${cmd} ${args.join(' ')}`);
    const run = spawnSync(cmd, args, {
      stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (run.status !== 0) {
      log(`${cmd} failed (exit ${run.status}); install libtorch-dev by hand or set LIBTORCH`);
      process.exit(1);
    }
  }
  plan = planLibtorch(process.env, machineProbe);
  log(plan.summary);
  if (plan.source !== 'system') {
    log('libtorch-dev was installed but its TorchConfig.cmake was not found');
    process.exit(1);
  }
}

if (noBuild) process.exit(0);

let noPrebuild = 'no prebuilt addon fits';
if (plan.source !== 'system') noPrebuild = `prebuilt addons serve only the system's LibTorch, and this install uses ${plan.source === 'python' ? 'a Python torch' : plan.source}`;
else if (checkout) noPrebuild = 'a git checkout always builds from source';
else if (fromSource) noPrebuild = 'the build from source was asked for';
if (plan.source === 'system' && !fromSource) {
  const available = prebuilds.listPrebuilds(root);
  const { chosen, reason } = prebuilds.choosePrebuild(available, prebuilds.systemLibtorch());
  if (chosen) {
    // a prebuild that does not load here is no better than none
    const check = prebuilds.addonTorchVersion(chosen.file);
    if ('version' in check) {
      // a build left from before (another LibTorch, perhaps) would be loaded before the prebuild
      rmSync(join(buildDir, 'Release', 'ptychopinn.node'), { force: true });
      rmSync(stamp, { force: true });
      log(`using ${chosen.file}: ${reason}; nothing to compile; ${metricsAddon()}`);
      process.exit(0);
    }
    log(`${chosen.file} does not load here (${check.error}): building from source`);
  } else if (available.length > 0) {
    log(`${reason}: building from source`);
  }
}
const missing = missingTools();
if (missing.length > 0) {
  // like a machine without LibTorch: usable without the addon, unless the addon was required
  console.error(`ptychopinn: installed WITHOUT the LibTorch addon (${metricsAddon()}): ${missing.join(' and ')} not found on PATH, and ` +
    `${noPrebuild}. ` +
    'Install cmake (>= 3.18) and g++ (C++20), e.g. `sudo apt-get install cmake g++`, then `npm rebuild ptychopinn`.');
  process.exit(process.env.PTYCHOPINN_LIBTORCH === 'require' ? 1 : 0);
}

mkdirSync(buildDir, { recursive: true });
if (!cmakeBuild('build', plan.cmakeDefines, stamp)) {
  log('the addon build failed; the lines above say why');
  process.exit(1);
}
const built = prebuilds.addonTorchVersion(join(buildDir, 'Release', 'ptychopinn.node'));
if ('error' in built) {
  log(`the built addon does not load: ${built.error}`);
  process.exit(1);
}
const metricsError = prebuilds.loadError(join(buildDir, 'Release', 'ptychopinn_metrics.node'));
if (metricsError) {
  log(`the built metrics addon does not load: ${metricsError}`);
  process.exit(1);
}
log(`built build/Release/ptychopinn.node against LibTorch ${built.version}, and build/Release/ptychopinn_metrics.node`);
