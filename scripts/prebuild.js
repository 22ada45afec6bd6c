#!/usr/bin/env node
// @ts-check
// `npm run prebuild [-- ROOT]`: copy the cmake-js build where node-gyp-build looks for prebuilt
// addons, under this package or under ROOT.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const built = join(root, 'build', 'Release', 'ptychopinn.node');
if (!existsSync(built)) {
  console.error(`ptychopinn: ${built} does not exist; run \`npm run build:addon\` first`);
  process.exit(1);
}
const dir = join(process.argv[2] ?? root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const target = join(dir, 'ptychopinn.napi.node');
copyFileSync(built, target);
console.log(`ptychopinn: copied ${built} to ${target}`);
