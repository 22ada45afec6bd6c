#!/usr/bin/env node
// @ts-check
// binding.gyp's view of the LibTorch that scripts/libtorch.js chooses (node-gyp has no
// find_package): `node scripts/torch-paths.js include|libdir|libs|sources`.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineProbe, planLibtorch } from './libtorch.js';

/**
 * The LibTorch root and library folder of a plan.
 * @param {import('./libtorch.js').Plan} plan
 */
export function torchLayout(plan) {
  if (plan.prefix) return { prefix: plan.prefix, libdir: join(plan.prefix, 'lib') };
  const dir = plan.cmakeDefines.find((d) => d.startsWith('Torch_DIR='))?.slice('Torch_DIR='.length);
  if (!dir) throw new Error(plan.error ?? `the plan (${plan.source}) names no LibTorch yet: run npm install first`);
  // A LibTorch tree keeps it at <prefix>/share/cmake/Torch; Debian at <prefix>/lib/<triplet>/cmake/Torch.
  const multiarch = /\/lib\/[^/]+-linux-gnu\/cmake\/Torch\/?$/.test(dir);
  const prefix = resolve(dir, multiarch ? '../../../..' : '../../..');
  return { prefix, libdir: multiarch ? resolve(dir, '../..') : join(prefix, 'lib') };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const { prefix, libdir } = torchLayout(planLibtorch(process.env, machineProbe));
  const what = process.argv[2];
  const out = {
    // -I/usr/include would break the compiler's #include_next chain of the C++ headers.
    include: [join(prefix, 'include'), join(prefix, 'include/torch/csrc/api/include')]
      .filter((d) => d !== '/usr/include'),
    libdir: [libdir],
    // Full paths, so no other LibTorch on the linker's search path can stand in.
    libs: ['libtorch.so', 'libtorch_cpu.so', 'libc10.so'].map((l) => join(libdir, l)),
    sources: readdirSync(join(root, 'native')).filter((f) => f.endsWith('.cc')).sort()
      .map((f) => `native/${f}`),
  }[/** @type {'include'} */ (what)];
  if (!out) {
    console.error('usage: torch-paths.js include|libdir|libs|sources');
    process.exit(2);
  }
  console.log(out.join(' '));
}
