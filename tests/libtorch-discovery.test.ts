import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APT_INSTALL, type Probe, planLibtorch } from '../scripts/libtorch.js';

interface Machine {
  files?: string[];
  python?: { root: string; version: string } | null;
  os?: string;
  root?: boolean;
  apt?: boolean;
}

function probe(m: Machine): Probe {
  return {
    exists: (p) => (m.files ?? []).includes(p),
    pythonTorch: () => m.python ?? null,
    osRelease: () => m.os ?? '',
    isRoot: () => m.root ?? false,
    hasApt: () => m.apt ?? false,
  };
}

const wheel = { root: '/venv/lib/python3.11/site-packages/torch', version: '2.13.0+cpu' };
const wheelConfig = `${wheel.root}/share/cmake/Torch/TorchConfig.cmake`;
const debianConfig = '/usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake';
const everything: Machine = {
  files: ['/opt/libtorch/share/cmake/Torch/TorchConfig.cmake', '/opt/t/TorchConfig.cmake', wheelConfig, debianConfig],
  python: wheel, os: 'ID=debian\n', root: true, apt: true,
};

test('LIBTORCH comes first and is passed as Torch_ROOT', (t) => {
  const plan = planLibtorch({ LIBTORCH: '/opt/libtorch', Torch_DIR: '/opt/t' }, probe(everything));
  t.is(plan.source, 'LIBTORCH');
  t.deepEqual(plan.cmakeDefines, ['Torch_ROOT=/opt/libtorch']);
});

test('a LIBTORCH that is not a LibTorch root is an error, not a fall-through', (t) => {
  const plan = planLibtorch({ LIBTORCH: '/nowhere' }, probe(everything));
  t.is(plan.source, 'none');
  t.regex(plan.error!, /LIBTORCH=\/nowhere is not a LibTorch root: .*share\/cmake\/Torch\/TorchConfig\.cmake does not exist/);
});

test('Torch_DIR comes second', (t) => {
  t.deepEqual(planLibtorch({ Torch_DIR: '/opt/t' }, probe(everything)).cmakeDefines, ['Torch_DIR=/opt/t']);
  t.regex(planLibtorch({ Torch_DIR: '/bad' }, probe(everything)).error!, /Torch_DIR=\/bad holds no TorchConfig\.cmake/);
});

test('a Python torch comes third, as its package root (never cmake_prefix_path)', (t) => {
  const plan = planLibtorch({ PYTHON: '/venv/bin/python' }, probe(everything));
  t.is(plan.source, 'python');
  t.deepEqual(plan.cmakeDefines, [`Torch_ROOT=${wheel.root}`]);
  t.regex(plan.summary, /2\.13\.0\+cpu.*\/venv\/bin\/python/);
});

test('a Python torch without CMake files falls through to the system', (t) => {
  const plan = planLibtorch({}, probe({ ...everything, files: [debianConfig] }));
  t.is(plan.source, 'system');
  t.deepEqual(plan.cmakeDefines, ['Torch_DIR=/usr/lib/x86_64-linux-gnu/cmake/Torch']);
});

test('with no LibTorch, root on Debian installs libtorch-dev with apt-get', (t) => {
  const plan = planLibtorch({}, probe({ os: 'PRETTY_NAME="Debian"\nID=debian\n', root: true, apt: true }));
  t.is(plan.source, 'apt');
  t.deepEqual(plan.commands, [['apt-get', 'update', '-q'], APT_INSTALL]);
  t.true(APT_INSTALL.includes('--no-install-recommends') && APT_INSTALL.includes('libtorch-dev'));
  t.is(planLibtorch({}, probe({ os: 'ID=linuxmint\nID_LIKE="ubuntu debian"\n', root: true, apt: true })).source, 'apt');
});

test('with no LibTorch and no way to install it, the error says what to install or set', (t) => {
  const notRoot = planLibtorch({}, probe({ os: 'ID=debian\n', root: false, apt: true }));
  t.is(notRoot.source, 'none');
  t.regex(notRoot.error!, /sudo apt-get install --no-install-recommends libtorch-dev/);
  t.regex(notRoot.error!, /LIBTORCH/);
  const fedora = planLibtorch({}, probe({ os: 'ID=fedora\n', root: true, apt: false }));
  t.is(fedora.source, 'none');
  t.regex(fedora.error!, /install LibTorch .*set LIBTORCH/);
});

// The same branches through the real script and real probes of a made-up machine.
const work = mkdtempSync(join(tmpdir(), 'ptpinn-discovery-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function script(path: string, body: string) {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

function install(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !['LIBTORCH', 'Torch_DIR', 'PYTHON', 'PTYCHOPINN_TORCH_SYSTEM_DIRS'].includes(k)));
  return spawnSync(process.execPath, ['scripts/install.js', ...args],
    { encoding: 'utf8', env: { ...clean, ...env } });
}

test('--dry-run prints the plan for LIBTORCH and for a Python torch', (t) => {
  const libtorch = join(work, 'libtorch');
  mkdirSync(join(libtorch, 'share/cmake/Torch'), { recursive: true });
  writeFileSync(join(libtorch, 'share/cmake/Torch/TorchConfig.cmake'), '');
  const out = install(['--dry-run'], { LIBTORCH: libtorch });
  t.is(out.status, 0);
  t.like(JSON.parse(out.stdout), { source: 'LIBTORCH', cmakeDefines: [`Torch_ROOT=${libtorch}`] });

  const python = join(work, 'python');
  script(python, `echo ${libtorch}; echo 9.9.9`);
  const viaPython = install(['--dry-run'], { PYTHON: python });
  t.like(JSON.parse(viaPython.stdout), { source: 'python', cmakeDefines: [`Torch_ROOT=${libtorch}`] });
});

test('the apt branch runs apt-get update and install, then uses the system LibTorch', (t) => {
  const bin = join(work, 'bin');
  const system = join(work, 'system-torch');
  const calls = join(work, 'apt-calls.txt');
  mkdirSync(bin, { recursive: true });
  // A stand-in apt-get that records its arguments and "installs" libtorch-dev's CMake package.
  script(join(bin, 'apt-get'), `echo "$@" >> ${calls}
case "$*" in *libtorch-dev*) mkdir -p ${system} && touch ${system}/TorchConfig.cmake;; esac`);
  const env = { PATH: `${bin}:${process.env.PATH}`, PYTHON: '/bin/false', PTYCHOPINN_TORCH_SYSTEM_DIRS: system };
  const out = install(['--no-build'], env);
  if (process.getuid?.() === 0) {
    t.is(out.status, 0, out.stdout + out.stderr);
    t.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'),
      ['--version', 'update -q', APT_INSTALL.slice(1).join(' ')]);
    t.regex(out.stdout, new RegExp(`LibTorch from the system \\(${system}\\)`));
  } else {
    t.is(out.status, 0);
    t.regex(out.stdout, /sudo apt-get install --no-install-recommends libtorch-dev/);
  }
});

test('PTYCHOPINN_LIBTORCH=skip installs nothing and builds nothing, and says what still works', (t) => {
  const bin = join(work, 'skip-bin');
  const calls = join(work, 'skip-calls.txt');
  mkdirSync(bin, { recursive: true });
  script(join(bin, 'apt-get'), `echo "$@" >> ${calls}`);
  // --no-build: were skip ever ignored, the test must not rebuild this checkout's addon
  const out = install(['--no-build'], { PATH: `${bin}:${process.env.PATH}`, PTYCHOPINN_LIBTORCH: 'skip' });
  t.is(out.status, 0, out.stdout + out.stderr);
  t.regex(out.stdout, /PTYCHOPINN_LIBTORCH=skip: no LibTorch looked for or installed, no LibTorch addon built/);
  t.regex(out.stdout, /infer --backend onnx/);
  t.false(existsSync(calls));
  t.like(planLibtorch({ PTYCHOPINN_LIBTORCH: 'skip', LIBTORCH: '/opt/libtorch' }, probe(everything)), { source: 'skip' });
});

test('with nothing to find and no apt-get, install succeeds without the addon and gives the fix', (t) => {
  const empty = join(work, 'empty-bin');
  mkdirSync(empty, { recursive: true });
  const out = install(['--no-build'], { PATH: empty, PYTHON: '/bin/false', PTYCHOPINN_TORCH_SYSTEM_DIRS: join(work, 'none') });
  t.is(out.status, 0);
  t.regex(out.stderr, /installed WITHOUT the LibTorch addon \(nothing built \(--no-build\)\)/);
  // where a missing LibTorch must be an error (CI, images), it is one
  const required = install(['--no-build'], { PATH: empty, PYTHON: '/bin/false', PTYCHOPINN_TORCH_SYSTEM_DIRS: join(work, 'none'), PTYCHOPINN_LIBTORCH: 'require' });
  t.is(required.status, 1);
  t.regex(required.stdout, /no LibTorch found/);
  const typo = install(['--dry-run'], { PTYCHOPINN_LIBTORCH: 'off' });
  t.is(typo.status, 1);
  t.regex(typo.stdout, /PTYCHOPINN_LIBTORCH=off: expected skip .* or require/);
  t.regex(out.stdout, /no LibTorch found\. Checked LIBTORCH, Torch_DIR, the Python torch package of \/bin\/false/);
});
