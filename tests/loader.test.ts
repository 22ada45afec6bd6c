import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AddonLoadError, loadAddon, packageRoot } from '../lib/binding.js';

const work = mkdtempSync(join(tmpdir(), 'ptpinn-loader-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('the loader takes the local build and says which file it loaded', (t) => {
  const { binding, file } = loadAddon();
  t.is(file, join(packageRoot(), 'build', 'Release', 'ptychopinn.node'));
  t.regex(binding.torchVersion, /^\d+\.\d+\.\d+/);
});

// In a child process, so that the prebuilt copy is the only addon that process loads.
function loadIn(root: string): { file: string; amplitude: number } {
  const binding = pathToFileURL(resolve('lib/binding.ts')).href;
  const code = `import { loadAddon } from ${JSON.stringify(binding)};
    const { binding, file } = loadAddon(${JSON.stringify(root)});
    const patch = new Float32Array([3, 4]);  // one 1x1 pattern, 3 + 4i, under a unit probe
    const out = await binding.diffract(patch, [1, 1, 1], new Float32Array([1, 0]), 1);
    console.log(JSON.stringify({ file, amplitude: out.data[0] }));`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code],
    { encoding: 'utf8' })) as { file: string; amplitude: number };
}

test('`npm run prebuild` output is picked up when no local build exists', (t) => {
  const root = join(work, 'installed');
  execFileSync(process.execPath, ['scripts/prebuild.js', root]);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ptychopinn' }));
  const loaded = loadIn(root);
  t.is(loaded.file, join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'ptychopinn.napi.node'));
  t.is(loaded.amplitude, 5);
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
