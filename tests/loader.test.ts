import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AddonLoadError, findAddon, findMetricsAddon, libtorchOf, loadAddon, packageRoot } from '../lib/binding.js';
import { readDynamicSection } from '../lib/elf.js';

const work = mkdtempSync(join(tmpdir(), 'ptpinn-loader-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

const require = createRequire(import.meta.url);
const prebuilds = require('../scripts/prebuilds.cjs') as {
  METRICS_PREBUILD: string;
  prebuildName(version: string): string;
  systemLibtorch(dirs?: string[], list?: (dir: string) => string[]): { version: string; libdir: string } | null;
  choosePrebuild(available: { file: string; version: string }[], system: { version: string; libdir: string } | null): { chosen?: { file: string }; reason: string };
};
const platformDir = `${process.platform}-${process.arch}`;

test('the loader takes the local build, else the prebuild for the system LibTorch, and says which', (t) => {
  const { binding, file, origin } = loadAddon();
  t.regex(binding.torchVersion, /^\d+\.\d+\.\d+/);
  const local = join(packageRoot(), 'build', 'Release', 'ptychopinn.node');
  if (existsSync(local)) {
    t.is(file, local);
    t.is(origin, 'a local build');
  } else {
    // CI moves its build to prebuilds/ (`npm run prebuild -- --move`) and tests that
    t.is(file, join(packageRoot(), 'prebuilds', platformDir, prebuilds.prebuildName(binding.torchVersion)));
    t.regex(origin, new RegExp(`prebuilt for the system's LibTorch ${binding.torchVersion.replace(/\./g, '\\.')}`));
  }
});

// In a child process, so that the prebuilt copy is the only addon that process loads.
function loadIn(root: string): { file: string; origin: string; amplitude: number } {
  const binding = pathToFileURL(resolve('lib/binding.ts')).href;
  const code = `import { loadAddon } from ${JSON.stringify(binding)};
    const { binding, file, origin } = loadAddon(${JSON.stringify(root)});
    const patch = new Float32Array([3, 4]);  // one 1x1 pattern, 3 + 4i, under a unit probe
    const out = await binding.diffract(patch, [1, 1, 1], new Float32Array([1, 0]), 1);
    console.log(JSON.stringify({ file, origin, amplitude: out.data[0] }));`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code],
    { encoding: 'utf8' })) as { file: string; origin: string; amplitude: number };
}

/** An installed package with the given prebuilds, each a copy of the addon this checkout loads. */
function installedWith(name: string, versions: string[]): string {
  const root = join(work, name);
  const dir = join(root, 'prebuilds', platformDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ptychopinn' }));
  for (const v of versions) cpSync(loadAddon().file, join(dir, prebuilds.prebuildName(v)));
  // the tarball's one metrics prebuild, which links no LibTorch
  cpSync(findMetricsAddon().file, join(dir, prebuilds.METRICS_PREBUILD));
  return root;
}

const system = prebuilds.systemLibtorch();

test('an installed package picks the prebuild named by the system LibTorch\'s version', (t) => {
  if (!system) return t.fail('this test needs the system LibTorch (libtorch-dev) that CI builds against');
  t.is(loadAddon().binding.torchVersion, system.version, 'the addon under test is built against the system LibTorch');
  const root = installedWith('installed', ['0.0.1', system.version]);
  const loaded = loadIn(root);
  t.is(loaded.file, join(root, 'prebuilds', platformDir, `ptychopinn.torch-${system.version}.napi.node`));
  t.regex(loaded.origin, /prebuilt for the system's LibTorch/);
  t.is(loaded.amplitude, 5);
});

test('no prebuild for the system LibTorch: the error says what it found and what to run', (t) => {
  const root = installedWith('mismatch', ['0.0.1']);
  const error = t.throws(() => findAddon(root), { instanceOf: AddonLoadError });
  t.regex(error!.message, system
    ? new RegExp(`no prebuilt addon for the system's LibTorch ${system.version}.*prebuilt for: 0\\.0\\.1`)
    : /need the system's LibTorch \(0\.0\.1\); none is installed/);
  t.regex(error!.message, /npm rebuild ptychopinn/);
});

test('the system LibTorch is read from its libraries\' file names; the choice follows it', (t) => {
  const list = (dir: string) => ({
    '/a': ['libc10.so', 'libtorch_cpu.so', 'libtorch_cpu.so.1.13'],
    '/b': ['libtorch_cpu.so.1.13', 'libtorch_cpu.so.1.13.1', 'libtorch.so.1.13.1'],
  } as Record<string, string[]>)[dir] ?? [];
  t.deepEqual(prebuilds.systemLibtorch(['/none', '/a', '/b'], list), { version: '1.13.1', libdir: '/b' });
  t.is(prebuilds.systemLibtorch(['/a'], list), null);
  const available = [{ file: 'x/ptychopinn.torch-1.13.1.napi.node', version: '1.13.1' }, { file: 'y', version: '2.13.0' }];
  t.is(prebuilds.choosePrebuild(available, { version: '2.13.0', libdir: '/b' }).chosen?.file, 'y');
  t.is(prebuilds.choosePrebuild(available, { version: '2.1.0', libdir: '/b' }).chosen, undefined);
  t.is(prebuilds.choosePrebuild([], { version: '2.13.0', libdir: '/b' }).reason, 'no prebuilt addon for this platform');
  t.throws(() => prebuilds.prebuildName('2.13.0+cpu'), { message: /not a LibTorch version/ });
});

test('`npm run prebuild` names the build by its LibTorch, or says what it needs', (t) => {
  const root = join(work, 'prebuild-out');
  const run = spawnSync(process.execPath, ['scripts/prebuild.js', root], { encoding: 'utf8' });
  const stamp = join(packageRoot(), 'build', 'libtorch-choice.json');
  const source = existsSync(stamp) ? JSON.parse(readFileSync(stamp, 'utf8')).source : undefined;
  if (existsSync(join(packageRoot(), 'build', 'Release', 'ptychopinn.node')) && source !== 'system') {
    // a developer build against LIBTORCH or a Python torch: not a prebuild for other machines
    t.is(run.status, 1);
    t.regex(run.stderr, /a prebuild is made against the system LibTorch/);
  } else if (existsSync(join(packageRoot(), 'build', 'Release', 'ptychopinn.node'))) {
    t.is(run.status, 0, run.stderr);
    const version = loadAddon().binding.torchVersion;
    t.true(existsSync(join(root, 'prebuilds', platformDir, `ptychopinn.torch-${version}.napi.node`)));
    t.regex(run.stdout, new RegExp(`copied .* \\(LibTorch ${version.replace(/\./g, '\\.')}\\)`));
  } else {
    t.is(run.status, 1);
    t.regex(run.stderr, /does not exist; run `npm run build:addon` first/);
  }
});

test('with neither a build nor a prebuild the error says where it looked and what to run', (t) => {
  const root = join(work, 'bare');
  execFileSync('mkdir', ['-p', root]);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ptychopinn' }));
  const error = t.throws(() => loadAddon(root), { instanceOf: AddonLoadError });
  t.regex(error!.message, /build\/Release\/ptychopinn\.node/);
  t.regex(error!.message, /prebuilds\/linux-x64/);
  t.regex(error!.message, /npm install/);
});

test('an addon that cannot be loaded is explained, not just rethrown', (t) => {
  const root = join(work, 'broken');
  execFileSync('mkdir', ['-p', join(root, 'build', 'Release')]);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ptychopinn' }));
  writeFileSync(join(root, 'build', 'Release', 'ptychopinn.node'), 'not an ELF file');
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `import { loadAddon } from ${JSON.stringify(pathToFileURL(resolve('lib/binding.ts')).href)};
     try { loadAddon(${JSON.stringify(root)}); } catch (e) { console.log(e.name + ': ' + e.message); }`],
  { encoding: 'utf8' });
  t.regex(child.stdout, /AddonLoadError: ptychopinn: cannot load the native addon .*broken\/build\/Release\/ptychopinn\.node/);
  t.regex(child.stdout, /npm run build:addon/);
});

// scripts/install.js in an installed copy (package.json, scripts/, prebuilds/) with the compiler
// hidden: the prebuild is taken when it fits, and otherwise the install says why it builds from
// source, and without a compiler ends addon-less (an error only with PTYCHOPINN_LIBTORCH=require).
function install(root: string, env: Record<string, string> = {}) {
  const stubs = join(work, 'no-compiler');
  mkdirSync(stubs, { recursive: true });
  for (const tool of ['cmake', 'c++']) writeFileSync(join(stubs, tool), '#!/bin/sh\nexit 127\n', { mode: 0o755 });
  cpSync('scripts', join(root, 'scripts'), { recursive: true });
  const { LIBTORCH: _l, Torch_DIR: _t, PYTHON: _p, PTYCHOPINN_LIBTORCH: _c, npm_config_build_from_source: _s, CXX: _x, ...rest } = process.env;
  return spawnSync(process.execPath, ['scripts/install.js'], {
    cwd: root, encoding: 'utf8',
    // a Python torch would be chosen before the system's: none here
    env: { ...rest, PATH: `${stubs}:${process.env.PATH}`, PYTHON: '/nonexistent/python', ...env },
  });
}

test('the install takes a fitting prebuild and compiles nothing; otherwise it says why and what to install', (t) => {
  t.timeout(60_000);
  if (!system) return t.fail('this test needs the system LibTorch (libtorch-dev) that CI builds against');
  const fitsRoot = installedWith('install-fits', [system.version]);
  // a build left from an earlier install would be loaded first: the install removes it
  mkdirSync(join(fitsRoot, 'build', 'Release'), { recursive: true });
  writeFileSync(join(fitsRoot, 'build', 'Release', 'ptychopinn.node'), 'stale');
  writeFileSync(join(fitsRoot, 'build', 'Release', 'ptychopinn_metrics.node'), 'stale');
  const fits = install(fitsRoot);
  t.is(fits.status, 0, fits.stderr);
  t.false(existsSync(join(fitsRoot, 'build', 'Release', 'ptychopinn.node')));
  t.false(existsSync(join(fitsRoot, 'build', 'Release', 'ptychopinn_metrics.node')));
  t.regex(fits.stdout, new RegExp(`using .*ptychopinn\\.torch-${system.version.replace(/\./g, '\\.')}\\.napi\\.node: prebuilt for the system's LibTorch .*nothing to compile`));

  const mismatch = install(installedWith('install-mismatch', ['0.0.1']));
  t.is(mismatch.status, 0, mismatch.stderr);
  t.regex(mismatch.stdout, /no prebuilt addon for the system's LibTorch .*prebuilt for: 0\.0\.1: building from source/);
  t.regex(mismatch.stderr, /installed WITHOUT the LibTorch addon \(the metrics \(compare, metrics\.json\) use .*ptychopinn-metrics\.napi\.node\): cmake and c\+\+ not found on PATH, and no prebuilt addon fits/);

  const required = install(installedWith('install-required', ['0.0.1']), { PTYCHOPINN_LIBTORCH: 'require' });
  t.is(required.status, 1);
  t.regex(required.stderr, /sudo apt-get install cmake g\+\+/);

  // another LibTorch chosen (here Torch_DIR, naming the system's own CMake folder): never a prebuild
  const torchDir = install(installedWith('install-torch-dir', [system.version]), { Torch_DIR: join(system.libdir, 'cmake', 'Torch') });
  t.notRegex(torchDir.stdout, /nothing to compile/);
  t.regex(torchDir.stderr, /prebuilt addons serve only the system's LibTorch, and this install uses Torch_DIR/);

  const fromSource = install(installedWith('install-source', [system.version]), { npm_config_build_from_source: 'true' });
  t.notRegex(fromSource.stdout, /nothing to compile/);
  t.regex(fromSource.stderr, /the build from source was asked for/);
});

// readelf (binutils, there wherever the addon can be compiled) as the independent reading.
test('the addon\'s needed libraries and search paths are read from its ELF dynamic section as readelf reads them', (t) => {
  const { file } = findAddon();
  let listing: string;
  try {
    listing = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  } catch {
    t.log('readelf is not installed here: compared with nothing');
    t.truthy(readDynamicSection(file)?.needed.length);
    return;
  }
  const field = (tag: string) => [...listing.matchAll(new RegExp(`\\(${tag}\\)\\s+\\S+ \\S+: \\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]);
  const origin = dirname(file);
  const paths = (values: string[]) => values.flatMap((v) => v.split(':')).filter(Boolean).map((p) => p.replaceAll(/\$(ORIGIN|\{ORIGIN\})/g, origin));
  t.deepEqual(readDynamicSection(file), { needed: field('NEEDED'), rpath: paths(field('RPATH')), runpath: paths(field('RUNPATH')) });
  t.true(field('NEEDED').some((n) => n.startsWith('libtorch_cpu')));
  t.is(readDynamicSection(resolve('package.json')), null, 'not an ELF file');
});

// The preload must open the very files the addon then takes: two LibTorches in one process break.
test('LibTorch preloaded on another thread is the one the addon then loads, and a process that exits meanwhile exits cleanly', (t) => {
  t.timeout(180_000);
  const { file } = findAddon();
  const libraries = libtorchOf(file);
  if (libraries.length === 0) {
    t.log(`${file}: its LibTorch is not found through its own RPATH/RUNPATH here; nothing is preloaded`);
    t.pass();
    return;
  }
  const cpu = libraries.find((l) => /libtorch_cpu\.so/.test(l));
  if (!cpu) return t.fail(`no libtorch_cpu among ${libraries.join(', ')}`);
  const binding = pathToFileURL(resolve('lib/binding.ts')).href;
  const mapped = (wait: number, preload: boolean) => {
    const code = `import { addon, preloadLibtorch } from ${JSON.stringify(binding)};
      import { readFileSync } from 'node:fs';
      import { availableParallelism } from 'node:os';
      ${preload ? 'preloadLibtorch();' : ''}
      await new Promise((done) => setTimeout(done, ${wait}));
      const before = readFileSync('/proc/self/maps', 'utf8');
      const out = await addon().binding.diffract(new Float32Array([3, 4]), [1, 1, 1], new Float32Array([1, 0]), 1);
      const libs = (text) => [...new Set(text.split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => /lib(c10|torch_cpu|torch)\\.so/.test(p ?? '')))].sort();
      console.log(JSON.stringify({ amplitude: out.data[0], cores: availableParallelism(), before: libs(before), after: libs(readFileSync('/proc/self/maps', 'utf8')) }));`;
    return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' })) as
      { amplitude: number; cores: number; before: string[]; after: string[] };
  };
  const plain = mapped(0, false);
  t.deepEqual(plain.before, [], 'nothing of LibTorch before the addon loads');
  for (const wait of [0, 4000]) {
    const run = mapped(wait, true);
    t.is(run.amplitude, 5, `the addon works when its load comes ${wait} ms after the preload started`);
    t.deepEqual(run.after, plain.after, 'the same LibTorch files as without the preload');
    // (maps name the files symlinks point to)
    if (wait > 0 && run.cores > 1) t.true(run.before.includes(realpathSync(cpu)), 'the preload alone mapped libtorch_cpu');
  }
  // the withdrawn preload of the addon itself aborted such processes (exit 134)
  for (let i = 0; i < 4; i++) {
    const bad = spawnSync(process.execPath, [resolve('dist/lib/cli/bin.js'), 'train', '--bogus'], { encoding: 'utf8' });
    t.is(bad.status, 2, bad.stderr);
    t.notRegex(bad.stderr, /terminate called|Aborted/);
  }
});
