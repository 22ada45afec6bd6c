// @ts-check
// Prebuilt addons, shared by the install (scripts/install.js), `npm run prebuild` and the loader
// (lib/binding.ts). CommonJS, so the loader can require it synchronously from source and from dist.
//
// A prebuild is made against a system LibTorch (Debian's libtorch-dev): its RPATH is a system
// library folder that every machine with that package has. It is named by the LibTorch version
// it was built against, prebuilds/<platform>-<arch>/ptychopinn.torch-<version>.napi.node, and is
// used only where the system's LibTorch has that version: Node-API keeps the addon
// independent of the Node version, but not of the C++ ABI of LibTorch. The metrics addon links no
// LibTorch: one prebuild, prebuilds/<platform>-<arch>/ptychopinn-metrics.napi.node, serves every
// machine of that platform.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

/** Where Debian, Ubuntu and `make install` put LibTorch's shared libraries. */
const SYSTEM_LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/usr/local/lib'];

const PREFIX = 'ptychopinn.torch-';
const SUFFIX = '.napi.node';
const METRICS_PREBUILD = 'ptychopinn-metrics.napi.node';

/** @param {string} version LibTorch's TORCH_VERSION, e.g. 1.13.0 */
function prebuildName(version) {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`not a LibTorch version: ${version}`);
  return `${PREFIX}${version}${SUFFIX}`;
}

/** The prebuilds folder of this platform under a package root. @param {string} root */
function prebuildDir(root, platform = process.platform, arch = process.arch) {
  return join(root, 'prebuilds', `${platform}-${arch}`);
}

/**
 * The prebuilds on disk: file and the LibTorch version each was built against.
 * @param {string} root
 * @returns {{ file: string, version: string }[]}
 */
function listPrebuilds(root) {
  const dir = prebuildDir(root);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX))
    .map((f) => ({ file: join(dir, f), version: f.slice(PREFIX.length, -SUFFIX.length) }))
    .filter((p) => /^\d+\.\d+\.\d+$/.test(p.version))
    .sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * The system's LibTorch, read from the file names of its libraries (libtorch_cpu.so.1.13.0):
 * what the dynamic linker would load for a prebuild, without loading it. Null when none.
 * @param {string[]} [dirs]
 * @param {(dir: string) => string[]} [list]
 * @returns {{ version: string, libdir: string } | null}
 */
function systemLibtorch(dirs = SYSTEM_LIB_DIRS, list = listDir) {
  for (const libdir of dirs) {
    const names = list(libdir);
    for (const name of names) {
      const m = /^libtorch_cpu\.so\.(\d+\.\d+\.\d+)$/.exec(name);
      if (m) return { version: m[1], libdir };
    }
  }
  return null;
}

/** @param {string} dir */
function listDir(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Which prebuild fits the system's LibTorch, and why (or why none does): one sentence for logs
 * and errors. (An install that chose another LibTorch never asks: it builds.)
 * @param {{ file: string, version: string }[]} available
 * @param {{ version: string, libdir: string } | null} system
 * @returns {{ chosen?: { file: string, version: string }, reason: string }}
 */
function choosePrebuild(available, system) {
  if (available.length === 0) return { reason: 'no prebuilt addon for this platform' };
  const have = available.map((p) => p.version).join(', ');
  if (!system) return { reason: `prebuilt addons need the system's LibTorch (${have}); none is installed` };
  const chosen = available.find((p) => p.version === system.version);
  if (!chosen) {
    return { reason: `no prebuilt addon for the system's LibTorch ${system.version} (${system.libdir}); prebuilt for: ${have}` };
  }
  return { chosen, reason: `prebuilt for the system's LibTorch ${system.version} (${system.libdir})` };
}

/**
 * Whether an addon file loads, tried in a child process (a file that does not load must not take
 * the caller down): null when it does, else the first line of the error.
 * @param {string} file
 * @returns {string | null}
 */
function loadError(file) {
  const run = loadInChild(file, 'require(process.argv[1])');
  return 'error' in run ? run.error : null;
}

/**
 * Runs `expression` in a child Node with `file` as its argument: its stdout, or the first line of
 * its error.
 * @param {string} file @param {string} expression
 * @returns {{ stdout: string } | { error: string }}
 */
function loadInChild(file, expression) {
  const run = spawnSync(process.execPath, ['-e', expression, file], { encoding: 'utf8' });
  if (run.status === 0) return { stdout: run.stdout };
  return { error: run.stderr.trim().split('\n')[0] || `exit ${run.status ?? run.signal}` };
}

/**
 * The LibTorch version an addon file reports, read in a child process (the caller may load
 * another addon later, and a file that does not load must not take the caller down).
 * @param {string} file
 * @returns {{ version: string } | { error: string }}
 */
function addonTorchVersion(file) {
  const run = loadInChild(file, 'console.log(require(process.argv[1]).torchVersion)');
  return 'error' in run ? run : { version: run.stdout.trim() };
}

module.exports = { SYSTEM_LIB_DIRS, METRICS_PREBUILD, loadError, prebuildName, prebuildDir, listPrebuilds, systemLibtorch, choosePrebuild, addonTorchVersion };
