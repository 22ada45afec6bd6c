// @ts-check
// Where the addon's LibTorch comes from. The decision is a pure function of the environment and
// a few probes of the machine, so every branch can be tested without a fresh machine.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian and Ubuntu put libtorch-dev's CMake package here. */
export const SYSTEM_TORCH_DIRS = [
  '/usr/lib/x86_64-linux-gnu/cmake/Torch',
  '/usr/lib/aarch64-linux-gnu/cmake/Torch',
  '/usr/lib/cmake/Torch',
  '/usr/local/lib/cmake/Torch',
  '/usr/share/cmake/Torch',
];

export const APT_INSTALL = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'libtorch-dev'];

/**
 * @typedef {object} Probe
 * @property {(path: string) => boolean} exists
 * @property {(python: string) => {root: string, version: string} | null} pythonTorch
 *   the torch package root (os.path.dirname(torch.__file__)) and version, or null
 * @property {() => string} osRelease contents of /etc/os-release ('' when absent)
 * @property {() => boolean} isRoot
 * @property {() => boolean} hasApt
 */

/**
 * @typedef {object} Plan
 * @property {'LIBTORCH' | 'Torch_DIR' | 'python' | 'system' | 'apt' | 'skip' | 'none'} source
 * @property {string} summary one line for the install log
 * @property {string[]} cmakeDefines -D definitions for CMake (without the -D)
 * @property {string} [prefix] the LibTorch root, when known before CMake runs
 * @property {string[][]} [commands] what must run before the build (the apt branch)
 * @property {string} [error] why there is no LibTorch, and what to install or set
 * @property {boolean} [fatal] the error is a mistake in the settings: the install must fail
 */

/**
 * @param {Record<string, string | undefined>} env
 * @param {Probe} probe
 * @returns {Plan}
 */
export function planLibtorch(env, probe) {
  const choice = env.PTYCHOPINN_LIBTORCH;
  if (choice !== undefined && choice !== '' && choice !== 'skip' && choice !== 'require') {
    return { ...none(`PTYCHOPINN_LIBTORCH=${choice}: expected skip (install without the addon) or require (fail without LibTorch)`), fatal: true };
  }
  if (choice === 'skip') {
    return {
      source: 'skip', cmakeDefines: [],
      summary: 'PTYCHOPINN_LIBTORCH=skip: no LibTorch looked for or installed, no LibTorch addon built. ' +
        'What needs no LibTorch works (NPY/NPZ, inspect, compare, export-onnx, infer --backend onnx); ' +
        'for the rest, unset PTYCHOPINN_LIBTORCH and run `npm rebuild ptychopinn`.',
    };
  }
  const libtorch = env.LIBTORCH;
  if (libtorch) {
    const config = join(libtorch, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
    if (!probe.exists(config)) {
      return { ...none(`LIBTORCH=${libtorch} is not a LibTorch root: ${config} does not exist. ` +
        'Point LIBTORCH at the folder that holds include/, lib/ and share/cmake/Torch/.'), fatal: true };
    }
    return {
      source: 'LIBTORCH', prefix: libtorch, cmakeDefines: [`Torch_ROOT=${libtorch}`],
      summary: `LibTorch from LIBTORCH=${libtorch}`,
    };
  }
  const torchDir = env.Torch_DIR;
  if (torchDir) {
    const config = join(torchDir, 'TorchConfig.cmake');
    if (!probe.exists(config)) {
      return { ...none(`Torch_DIR=${torchDir} holds no TorchConfig.cmake. ` +
        'Point Torch_DIR at the folder that holds TorchConfig.cmake (LibTorch\'s share/cmake/Torch).'), fatal: true };
    }
    return {
      source: 'Torch_DIR', cmakeDefines: [`Torch_DIR=${torchDir}`],
      summary: `LibTorch from Torch_DIR=${torchDir}`,
    };
  }
  const python = env.PYTHON || 'python3';
  const py = probe.pythonTorch(python);
  if (py && probe.exists(join(py.root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) {
    // The package root, never torch.utils.cmake_prefix_path: with that, find_library prefers
    // a system LibTorch's libraries over the wheel's own (see CMakeLists.txt).
    return {
      source: 'python', prefix: py.root, cmakeDefines: [`Torch_ROOT=${py.root}`],
      summary: `LibTorch ${py.version} from the Python torch package of ${python} (${py.root})`,
    };
  }
  // PTYCHOPINN_TORCH_SYSTEM_DIRS replaces the list for unusual layouts (and for tests).
  const systemDirs = env.PTYCHOPINN_TORCH_SYSTEM_DIRS?.split(':').filter(Boolean) ?? SYSTEM_TORCH_DIRS;
  const system = systemDirs.find((dir) => probe.exists(join(dir, 'TorchConfig.cmake')));
  if (system) {
    return {
      source: 'system', cmakeDefines: [`Torch_DIR=${system}`],
      summary: `LibTorch from the system (${system})`,
    };
  }
  const os = probe.osRelease();
  const debianLike = /^ID(_LIKE)?=.*\b(debian|ubuntu)\b/m.test(os);
  if (debianLike && probe.isRoot() && probe.hasApt()) {
    return {
      source: 'apt', cmakeDefines: [],
      commands: [['apt-get', 'update', '-q'], APT_INSTALL],
      summary: 'no LibTorch found: installing Debian\'s libtorch-dev with apt-get (about 170 packages, 0.5 GB; ' +
        'set PTYCHOPINN_LIBTORCH=skip to refuse, and install without the addon)',
    };
  }
  const how = debianLike
    ? 'run `sudo apt-get install --no-install-recommends libtorch-dev`'
    : 'install LibTorch (https://pytorch.org, the C++ "LibTorch" download)';
  return { ...none('no LibTorch found. Checked LIBTORCH, Torch_DIR, the Python torch package of ' +
    `${python}, and ${systemDirs.join(', ')}. To fix: ${how} and set LIBTORCH to its root, ` +
    'or `pip install torch` for the Python that PYTHON names, then run `npm install` again.'), fatal: choice === 'require' };
}

/** @param {string} error @returns {Plan} */
function none(error) {
  return { source: 'none', cmakeDefines: [], summary: error, error };
}

/** The real machine. @type {Probe} */
export const machineProbe = {
  exists: (path) => existsSync(path),
  pythonTorch(python) {
    try {
      const out = execFileSync(python, ['-c',
        'import os, torch; print(os.path.dirname(torch.__file__)); print(torch.__version__)'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
      const [root, version] = out.trim().split('\n');
      return root ? { root, version: version ?? '?' } : null;
    } catch {
      return null;
    }
  },
  osRelease() {
    try {
      return readFileSync('/etc/os-release', 'utf8');
    } catch {
      return '';
    }
  },
  isRoot: () => typeof process.getuid === 'function' && process.getuid() === 0,
  hasApt() {
    try {
      execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  },
};
